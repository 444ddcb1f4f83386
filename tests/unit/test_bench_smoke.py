"""The benchmark harness at its smallest: it produces rows and verdicts (never timings
asserted), and every variant of benchmark 1 leaves the same rows in its database."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import portal, sweep_scale, throughput
from bench.databases import Scratch
from bench.harness import Section, Target
from bench.report import document, head
from bench.wrk import missing as wrk_missing


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    made = Scratch("sqlite", tmp_path)
    yield made
    made.close()


def test_target_verdicts_follow_the_direction_of_the_target() -> None:
    assert Target("speed", 3.1, 3.0).met
    assert not Target("speed", 2.9, 3.0).met
    assert Target("p95", 99.0, 100.0, " ms", at_most=True).met
    missed = Target("p95", 180.0, 100.0, " ms", at_most=True, why_missed="N+1 queries")
    assert not missed.met
    assert missed.row() == ["p95", "180 ms", "< 100 ms", "**missed**: N+1 queries"]


def test_throughput_walks_every_variant_to_the_same_rows(scratch: Scratch) -> None:
    section = throughput.run([scratch], count=3, chunk=2)
    variants, parts = section.tables
    assert [row[0] for row in variants.rows] == [throughput.LABELS[n] for n in throughput.VARIANTS]
    left = {row[-1] for row in variants.rows}
    assert left == {"3 admitted, 18 audit events, 21 outbox rows, 3 memberships"}
    assert parts.rows[-1][0] == "whole action"
    assert [t.name for t in section.targets] == [
        "sqlite: ours / limit speed",
        "sqlite: ours / spiff speed",
        "sqlite: ours / naive speed",
    ]


@pytest.mark.slow
def test_sweep_and_job_per_reminder_enqueue_one_reminder_per_member(scratch: Scratch) -> None:
    section = sweep_scale.run([scratch], sizes=[20, 40], peer_sizes=[20], repeats=1)
    (table,) = section.tables
    assert [row[0] for row in table.rows] == ["20", "40"]
    assert table.rows[1][-1].startswith("~")  # the peer's 40 is extrapolated, and says so
    assert len(section.targets) == 5


def test_the_report_names_the_machine_and_every_section() -> None:
    text = document(
        head(
            quick=True,
            postgres="not measured",
            started=datetime(2027, 1, 1, tzinfo=UTC),
            seconds=1.0,
        ),
        [Section("1. Workflow throughput", "intro"), Section("4. Portal", "intro")],
    )
    assert "cores" in text and "Python 3." in text and "SQLAlchemy" in text
    assert "## 1. Workflow throughput" in text and "## 4. Portal" in text


@pytest.mark.slow
@pytest.mark.load
@pytest.mark.skipif(wrk_missing() is not None, reason="wrk is not installed (apt-get install wrk)")
def test_the_portal_benchmark_measures_each_page_with_wrk_beside_the_floor(
    scratch: Scratch,
) -> None:
    section = portal.run([scratch], members=30, applications=30, clients=2, requests=4, seconds=1)
    ours, drawn, second, parts = section.tables
    for table in (ours, drawn):  # pages kept, then pages drawn at every view
        assert [row[1] for row in table.rows] == ["1", "20"] * len(portal.PAGES)
        assert all(float(row[2].replace(",", "")) > 0 for row in table.rows)  # requests/s
        assert all(row[-1].endswith("x") for row in table.rows)  # a share of the floor
    assert [row[0] for row in second.rows] == list(portal.PAGES)
    assert [row[0] for row in parts.rows] == list(portal.PAGES)
    for row in parts.rows:  # each part of a view within the whole view
        whole, statements, rendering = (float(v.replace(",", "")) for v in row[1:4])
        assert 0 < statements < whole and 0 < rendering < whole
    assert len(section.targets) == 5 * len(portal.PAGES)
    # The scaling targets say how busy the cores were (from /proc/stat), 1 and 20 connections.
    scaling = [t for t in section.targets if "20 / 1" in t.name]
    assert len(scaling) == len(portal.PAGES)
    for target in scaling:
        found = re.search(
            r"were ([\d.]+) busy on 1 connection and ([\d.]+) on 20", target.why_missed
        )
        assert found, target.why_missed
        cores = os.cpu_count() or 1
        assert 0 < float(found.group(1)) <= cores and 0 < float(found.group(2)) <= cores
