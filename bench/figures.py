"""The figures' shape in ``bench/results.json`` and the small statistics they need."""

from __future__ import annotations

import operator
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["s", "bytes", "requests", "items", "share", "per_s"]
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Figure:
    """One measured figure, its baseline (when it has one) and its target.

    ``target`` reads like ``"<= 1.0"``; it applies to the ratio when ``target_on_ratio``, else
    to ``ours`` itself (a count, or a size with an absolute limit).
    """

    ours: float
    baseline: float | None
    target: str
    unit: Unit
    target_on_ratio: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool:
        comparison, limit = self.target.split()
        value = self.ratio if self.target_on_ratio else self.ours
        return value is not None and _COMPARISONS[comparison](value, float(limit))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ours": _rounded(self.ours),
            "baseline": None if self.baseline is None else _rounded(self.baseline),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "target": ("ratio " if self.target_on_ratio else "") + self.target,
            "met": self.met,
            "unit": self.unit,
        }
        if self.note:
            data["note"] = self.note
        return data


def _rounded(value: float) -> float:
    return value if float(value).is_integer() else round(value, 6)


def median_seconds(action: Callable[[], object], repetitions: int) -> float:
    return statistics.median(timed(action) for _ in range(repetitions))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu_timed(action: Callable[[], object]) -> float:
    """CPU seconds of this process spent in ``action``: what it costs, whoever else shares the
    cores (wall time on 2 shared cores swings with the other sessions' load)."""
    started = time.process_time()
    action()
    return time.process_time() - started
