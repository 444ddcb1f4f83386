"""``python -m bench [--quick] [--only 1,2,3,4,5] [--sqlite-only]``: run the benchmarks.

The full run writes ``docs/benchmarks.md``; ``--quick`` runs small sizes and only prints
the report. A benchmark that fails is reported as failed and the others still run.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import dispatch, portal, startup, sweep_scale, throughput
from bench.databases import (
    RANDOM_PAGE_COST,
    Scratch,
    postgres_reason,
    postgres_version,
    scratch_folder,
)
from bench.harness import Section, say
from bench.report import document, head

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    applications: int
    chunk: int
    members: list[int]
    job_members: list[int]
    sweep_repeats: int
    messages: int
    naive_messages: int
    pools: list[int]
    portal_rows: int
    portal_requests: int
    portal_seconds: float
    startup_repeats: int


FULL = Sizes(
    400, 25, [1_000, 10_000, 100_000], [1_000, 10_000], 2, 5_000, 400, [4, 8], 10_000, 200, 10, 9
)
QUICK = Sizes(20, 10, [200, 1_000], [200], 1, 200, 20, [4], 300, 40, 5, 3)


def main(argv: list[str] | None = None) -> Section | list[Section]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; print, do not write")
    parser.add_argument("--only", default="1,2,3,4,5", help="which benchmarks, e.g. 1,3")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    chosen = {int(n) for n in args.only.split(",") if n.strip()}
    started, clock = datetime.now(UTC), time.perf_counter()

    folder = scratch_folder()
    scratches = [Scratch("sqlite", folder)]
    reason = "skipped (--sqlite-only)" if args.sqlite_only else postgres_reason()
    if reason is None:
        scratches.append(Scratch("postgresql", folder))
        postgres = (
            f"{postgres_version()}, random_page_cost {RANDOM_PAGE_COST} as docs/operations.md "
            "asks for on SSD storage"
        )
    else:
        postgres = f"not measured: {reason}"
    say(f"benchmarks ({'quick' if args.quick else 'full'}) on {[s.backend for s in scratches]}")

    runs: dict[int, tuple[str, Callable[[], Section]]] = {
        1: ("1. Workflow throughput", lambda: throughput.run(
            scratches, count=sizes.applications, chunk=sizes.chunk)),
        2: ("2. Sweep at scale", lambda: sweep_scale.run(
            scratches, sizes=sizes.members, peer_sizes=sizes.job_members,
            repeats=sizes.sweep_repeats)),
        3: ("3. Dispatch", lambda: dispatch.run(
            scratches, count=sizes.messages, naive_count=sizes.naive_messages,
            pools=sizes.pools, repeats=1)),
        4: ("4. Portal", lambda: portal.run(
            scratches, members=sizes.portal_rows, applications=sizes.portal_rows, clients=20,
            requests=sizes.portal_requests, seconds=sizes.portal_seconds)),
        5: ("5. Command-line start-up", lambda: startup.run(repeats=sizes.startup_repeats)),
    }  # fmt: skip
    sections: list[Section] = []
    try:
        for number in sorted(chosen):
            title, run = runs[number]
            say(f"{title}")
            try:
                sections.append(run())
            except Exception:  # one broken benchmark must not hide the others' results
                error = traceback.format_exc()
                say(error)
                last = error.strip().splitlines()[-1]
                sections.append(Section(title, f"**This benchmark failed:** `{last}`"))
    finally:
        for scratch in scratches:
            scratch.close()
    text = document(
        head(
            quick=args.quick,
            postgres=postgres,
            started=started,
            seconds=time.perf_counter() - clock,
        ),
        sections,
    )
    if args.quick:
        say("\n" + text)
    else:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(text)
        say(f"\nwritten to {REPORT}")
    return sections


if __name__ == "__main__":
    main()
