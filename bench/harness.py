"""What every benchmark shares: repeated timing, targets, tables and the report.

A benchmark returns a :class:`Section`: its tables (already formatted cells), the targets
it checked and free text. Ratios are taken round by round, each round running the
variants back to back, and the median ratio is reported, so that a machine loaded by
something else slows both sides of a ratio alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """One target of the issue: ``value`` compared with ``threshold``."""

    name: str
    value: float
    threshold: float
    unit: str = "x"
    at_most: bool = False  # True: the value must stay below the threshold
    why_missed: str = ""  # the cause and what would close the gap, when missed

    @property
    def met(self) -> bool:
        return self.value < self.threshold if self.at_most else self.value >= self.threshold

    @property
    def wanted(self) -> str:
        return f"{'<' if self.at_most else '>='} {fmt(self.threshold)}{self.unit}"

    def row(self) -> list[str]:
        verdict = "met" if self.met else "**missed**"
        if not self.met and self.why_missed:
            verdict += f": {self.why_missed}"
        return [self.name, f"{fmt(self.value)}{self.unit}", self.wanted, verdict]

    def line(self) -> str:
        return (
            f"  {self.name}: {fmt(self.value)}{self.unit} (target {self.wanted}: "
            f"{'met' if self.met else 'MISSED'})"
        )


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str = ""

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""] if self.title else []
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines.extend("| " + " | ".join(r) + " |" for r in self.rows)
        return "\n".join(lines)


@dataclass
class Section:
    """One benchmark's results, as written to the report."""

    title: str
    intro: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"## {self.title}", "", self.intro, ""]
        for table in self.tables:
            parts += [table.markdown(), ""]
        if self.targets:
            targets = Table(
                ["target", "measured", "wanted", "verdict"], [t.row() for t in self.targets]
            )
            parts += ["**Targets**", "", targets.markdown(), ""]
        parts += [f"- {n}" for n in self.notes]
        return "\n".join(parts).rstrip() + "\n"


def fmt(value: float) -> str:
    """A number with about three significant digits."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` leaves the elapsed seconds in ``t[0]``."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Rounds:
    """Seconds per variant, one entry per round; variants of a round ran back to back."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, variant: str, seconds: float) -> None:
        self.seconds.setdefault(variant, []).append(seconds)

    def best(self, variant: str) -> float:
        return min(self.seconds[variant])

    def median(self, variant: str) -> float:
        return median(self.seconds[variant])

    def speedup(self, fast: str, slow: str) -> float:
        """Median over rounds of (time of ``slow``) / (time of ``fast``)."""
        pairs = zip(self.seconds[fast], self.seconds[slow], strict=False)
        return median([s / f for f, s in pairs if f > 0])


def run_rounds(variants: dict[str, Callable[[], float]], rounds: int, *, label: str = "") -> Rounds:
    """Run every variant once per round, in the same order; each returns its seconds."""
    result = Rounds()
    for number in range(1, rounds + 1):
        for name, run in variants.items():
            seconds = run()
            result.add(name, seconds)
            say(f"    {label} round {number}: {name} {seconds:.3f} s")
    return result
