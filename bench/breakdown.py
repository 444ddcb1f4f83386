"""Where the time of one variant goes: wall-clock totals of named functions.

Cheaper than a profiler (one timer per call of a few chosen functions), so the shares
stay close to an uninstrumented run. Nested functions are counted in both; the labels
say which is inside which.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def timed(targets: list[tuple[Any, str, str]]) -> Iterator[dict[str, float]]:
    """Patch each ``(owner, attribute, label)`` with a timing wrapper while inside."""
    totals: dict[str, float] = defaultdict(float)  # seconds per label
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]

    def wrap(original: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(original)
        def timing(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - start

        return timing

    for (owner, name, label), (_, _, original) in zip(targets, saved, strict=True):
        setattr(owner, name, wrap(original, label))
    try:
        yield totals
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
