"""``wrk``, the C load generator, driven from Python: its figures parsed.

``wrk`` takes almost none of the CPU the portal needs, unlike Python clients on the same
two cores. It is a Debian package (``apt-get install wrk``; ``.ci/run`` and ``make bench``
install it)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.M)
_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)$", re.M)


def missing() -> str | None:
    """None when ``wrk`` can run here, else what to install."""
    return None if shutil.which("wrk") else "wrk is not installed (apt-get install wrk)"


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    errors: str  # "" when every answer was 2xx/3xx and no socket failed
    busy_cores: float = 0.0  # the machine's cores kept busy meanwhile (wrk included)


def _cpu_times() -> tuple[int, int]:
    """All and idle (idle + iowait) CPU time since boot, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(ticks), ticks[3] + ticks[4]


def parse(output: str, connections: int) -> WrkResult:
    latency = {share: float(v) * UNITS[unit] for share, v, unit in _LATENCY.findall(output)}
    rate, total = _RATE.search(output), _TOTAL.search(output)
    if rate is None or total is None or "50" not in latency or "99" not in latency:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    errors = "; ".join(m.group(0) for m in _ERRORS.finditer(output))
    return WrkResult(
        connections, int(total.group(1)), float(rate.group(1)), latency["50"], latency["99"], errors
    )


def run(url: str, *, connections: int, seconds: float, headers: dict[str, str]) -> WrkResult:
    """``connections`` keep-alive connections on ``min(connections, 2)`` threads for
    ``seconds``: wrk's own rate and latency percentiles."""
    command = [
        "wrk",
        f"-c{connections}",
        f"-t{min(connections, 2)}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    total, idle = _cpu_times()
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    total_after, idle_after = _cpu_times()
    got = parse(done.stdout, connections)
    if total_after > total:
        busy = 1 - (idle_after - idle) / (total_after - total)
        got = dataclasses.replace(got, busy_cores=busy * (os.cpu_count() or 1))
    return got
