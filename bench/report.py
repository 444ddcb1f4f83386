"""The report's head: the machine, the versions and the date; and the whole document."""

from __future__ import annotations

import os
import platform
import sqlite3
from datetime import UTC, datetime
from importlib import metadata

from bench.harness import Section

LIBRARIES = (
    "SQLAlchemy",
    "transitions",
    "Jinja2",
    "psycopg",
    "SpiffWorkflow",
    "APScheduler",
    "aiosmtplib",
    "aiosmtpd",
    "fastapi",
    "uvicorn",
    "httpx",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def versions() -> str:
    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def head(*, quick: bool, postgres: str, started: datetime, seconds: float) -> str:
    load = os.getloadavg()
    return "\n".join(
        [
            "# Benchmarks" + (" (quick run: small sizes, not for comparison)" if quick else ""),
            "",
            "Written by `make bench` (`python -m bench`); `make bench-quick` runs small sizes "
            "and only prints. Targets are those of issues 5 and 12; a missed target says why "
            "and what would close the gap.",
            "",
            f"- Date: {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC; "
            f"the run took {seconds / 60:.1f} min",
            f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {memory_gb():.1f} GB memory, "
            f"{platform.system()} {platform.release()}; load average at the end "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (the machine was shared)",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version} (WAL, "
            f"synchronous=FULL), PostgreSQL: {postgres}",
            f"- Libraries: {versions()}",
            "",
        ]
    )


def document(head_text: str, sections: list[Section]) -> str:
    return head_text + "\n" + "\n".join(s.markdown() for s in sections)
