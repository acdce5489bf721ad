"""Metric values as people read them: with their unit, rounded, intervals clipped.

The terminal tables and the HTML report show figures the same way; the unit
of each metric comes from `measure.catalogue`.
"""

from __future__ import annotations

import math
from typing import Any

from ..measure.catalogue import signed, unit

_KINDS = {"s": "seconds", "fraction": "fraction", "count": "number", "kbit/s": "kbit/s",
          "Mbit/s": "Mbit/s"}


def kind(name: str) -> str:
    """How a metric's value is shown: "fraction", "number", "kbit/s", "Mbit/s" or "seconds"."""
    return _KINDS[unit(name)]


def unit_label(name: str) -> str:
    """The label of a metric's axis."""
    return {"fraction": "share", "number": "", "kbit/s": "kbit/s", "Mbit/s": "Mbit/s",
            "seconds": "seconds"}[kind(name)]


def value(number_like: Any, name: str) -> str:
    """A metric's value with its unit ("—" when there is none); HTML-safe."""
    number = _num(number_like)
    if math.isnan(number):
        return "—"
    shown = kind(name)
    if shown == "fraction":
        return percent(number)
    if shown == "number":
        return f"{number:,.0f}" if number == round(number) and abs(number) >= 1 else f"{number:.2f}"
    if shown == "kbit/s":
        return f"{number:,.0f} kbit/s"
    if shown == "Mbit/s":
        return f"{number:,.1f} Mbit/s"
    return f"{number:.2f} s" if abs(number) < 10 else f"{number:,.1f} s"


def clip_ci(ci: Any, name: str) -> tuple[float, float] | None:
    """A 95% interval as shown: no metric is negative but an error or a difference, and
    no fraction is above 100 %."""
    if not isinstance(ci, (list, tuple)) or len(ci) < 2:
        return None
    lo, hi = _num(ci[0]), _num(ci[1])
    if math.isnan(lo) or math.isnan(hi):
        return None
    top = 1.0 if kind(name) == "fraction" else math.inf
    if signed(name):
        return lo, hi

    def clip(x: float) -> float:
        return min(x, top) if x > 0 else 0.0    # not max(x, 0.0): that keeps -0.0, shown "-0.00 %"
    return clip(lo), clip(hi)


def ci_text(ci: Any, name: str) -> str:
    """A 95 % interval as "lo – hi", each with its unit; "" without one."""
    clipped = clip_ci(ci, name)
    return "" if clipped is None else f"{value(clipped[0], name)} – {value(clipped[1], name)}"


def percent(fraction: float) -> str:
    """A fraction as a percentage, two decimals below 10 %."""
    pct = fraction * 100
    return f"{pct:.2f} %" if abs(pct) < 10 else f"{pct:.1f} %"


def _num(number_like: Any) -> float:
    if isinstance(number_like, (int, float)) and not isinstance(number_like, bool):
        return float(number_like)
    return math.nan


def clock(seconds: float) -> str:
    """Seconds from time 0 as a clock time a scenario file takes: 08:30, 08:30:15, 25:00."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
