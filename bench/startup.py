"""Benchmark 5: how long ``gnlc`` takes to start, as whole processes.

Each command runs as its own process, several times, beside ``python -c pass`` (the
interpreter's floor) and ``python -c "import typer"`` (the CLI framework's floor), the
variants taking turns so that a loaded machine slows all of them alike; ``import
sqlalchemy.orm`` is the floor of any command that reads the database. Reported: the
median wall time and the peak memory (``/usr/bin/time``'s maximum resident set).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Section, Table, Target, fmt, say

ROOT = Path(__file__).resolve().parent.parent
PASS = 'python -c "pass"'
TYPER = 'python -c "import typer"'
ORM = 'python -c "import sqlalchemy.orm"'
#: What a command that reads the database and prints a table imports before any code of
#: ours: Typer with the Pydantic it checks every parameter with (Typer 0.29), the ORM,
#: Rich's tables.
LIBRARIES = 'python -c "import typer._adapters, sqlalchemy.orm, rich.table"'
#: The least any read command through Typer and SQLAlchemy imports: Typer's parameter
#: parsing (its Pydantic) and SQLAlchemy Core, without the ORM or Rich.
CORE = 'python -c "import typer._adapters, sqlalchemy"'


def _gnlc(*args: str) -> list[str]:
    """The installed console script (``pip install -e .``), as an operator runs it."""
    script = Path(sys.executable).parent / "gnlc"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from cli.main import app; app()", *args]


def _timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``command``."""
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def _peak_mb(command: list[str], env: dict[str, str]) -> float:
    """The peak resident memory of one run, as ``/usr/bin/time`` sees the process itself
    (a child forked from this process would count our pages too); 0 without it."""
    if not Path("/usr/bin/time").exists():
        return 0.0
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def run(*, repeats: int) -> Section:
    home = Path(tempfile.mkdtemp(prefix="gnlc-bench-cli-"))
    env = {**os.environ, "GNLC_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("GNLC_DATABASE__URL", None)
    # Compiled once, as an installed package is: with PYTHONDONTWRITEBYTECODE (set while
    # developing) a checkout without __pycache__ compiled its own modules on every run,
    # some 30 ms of a read command's CPU. The cache lives under the scratch home, so the
    # checkout stays clean; the untimed first round below fills it for every variant.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    # A current database holding the demo world (a read command's usual case).
    seed = (
        "from datetime import UTC, datetime\n"
        "from config import load_settings\n"
        "from web.demo import load_demo\n"
        "from workflow.db import ensure_schema, make_engine, session_factory\n"
        "from notifications import wiring\n"
        "wiring.install()\n"
        "settings = load_settings()\n"
        "ensure_schema(settings.database.url)\n"
        "factory = session_factory(make_engine(settings.database.url))\n"
        "load_demo(factory, settings, datetime(2027, 3, 10, 9, tzinfo=UTC), world=True)\n"
    )
    subprocess.run([sys.executable, "-c", seed], env=env, cwd=ROOT, check=True, capture_output=True)
    variants = {
        PASS: [sys.executable, "-c", "pass"],
        TYPER: [sys.executable, "-c", "import typer"],
        ORM: [sys.executable, "-c", "import sqlalchemy.orm"],
        CORE: [sys.executable, "-c", "import typer._adapters, sqlalchemy"],
        LIBRARIES: [sys.executable, "-c", "import typer._adapters, sqlalchemy.orm, rich.table"],
        "gnlc --help": _gnlc("--help"),
        "gnlc call list": _gnlc("call", "list"),
        "gnlc app show 1": _gnlc("app", "show", "1"),
        "gnlc call --help": _gnlc("call", "--help"),
    }
    for command in variants.values():
        _timed(command, env)  # untimed: compiles, and warms the page cache
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, command in variants.items():
            times[name].append(_timed(command, env))
    memory = {name: _peak_mb(command, env) for name, command in variants.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    section = Section(
        "5. Command-line start-up",
        f"Each command as a whole process, {repeats} runs each, taking turns with the "
        "floors; the median wall time and the peak resident memory. The database is a "
        "current SQLite file under a scratch GNLC_HOME; every process reads compiled "
        "bytecode (an untimed first round writes it), as an installed package does. "
        "`gnlc --help` imports only the command table (`cli/registry.py`); a command imports "
        "its own module when it runs.",
    )
    table = Table(["process", "median s", "min s", "peak MB", "vs python -c pass"])
    for name in variants:
        table.rows.append(
            [name, fmt(median[name]), fmt(min(times[name])), fmt(memory[name]),
             f"{fmt(median[name] / median[PASS])}x"]
        )  # fmt: skip
    section.tables.append(table)
    typer_floor = median[TYPER]
    help_ratio = median["gnlc --help"] / typer_floor
    section.targets += [
        Target("gnlc --help vs import typer", help_ratio, 4, "x", at_most=True,
               why_missed=_why(median, "gnlc --help")),
        Target("gnlc --help", median["gnlc --help"], 0.25, " s", at_most=True,
               why_missed=_why(median, "gnlc --help")),
        Target("gnlc call list", median["gnlc call list"], 0.4, " s", at_most=True,
               why_missed=_why(median, "gnlc call list")),
        Target("gnlc app show 1", median["gnlc app show 1"], 0.4, " s", at_most=True,
               why_missed=_why(median, "gnlc app show 1")),
    ]  # fmt: skip
    for target in section.targets:
        say(target.line())
    return section


def _why(median: dict[str, float], name: str) -> str:
    return (
        f"{fmt(median[name])} s, where the bare interpreter takes {fmt(median[PASS])} s and "
        f"`import typer` {fmt(median[TYPER])} s and `import sqlalchemy.orm` (which a command "
        f"reading the database needs) {fmt(median[ORM])} s in the same run; importing the "
        f"libraries a read command prints with (Typer with its Pydantic, the ORM, Rich's "
        f"tables) takes {fmt(median[LIBRARIES])} s before any code of ours runs"
        + (
            ""
            if name == "gnlc --help"
            else f"; Typer's parsing and SQLAlchemy Core alone, without the ORM or Rich, take "
            f"{fmt(median[CORE])} s, which leaves {fmt(max(0.4 - median[CORE], 0))} s of the "
            f"target for reading the settings, opening the database, the query and the output"
        )
    )


if __name__ == "__main__":
    print(run(repeats=int(sys.argv[1]) if len(sys.argv) > 1 else 5).markdown())
