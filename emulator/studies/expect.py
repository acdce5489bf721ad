"""Expectations of a scenario, checked against the result of a run."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Mapping

from reference_impl.records import CallbackRecord

from ..scenario import CallExpectation, MetricExpectation
from ..units import format_seconds

_BOUNDS = (("below", "below"), ("above", "above"), ("at most", "at_most"),
           ("at least", "at_least"))
_HOLDS = {"below": operator.lt, "above": operator.gt, "at_most": operator.le,
          "at_least": operator.ge}
_CALL_KEYS = ("outcome", "failovers", "centre", "terminal", "code", "ended_by", "told", "room",
              "audio", "attempts")


@dataclass(frozen=True)
class Verdict:
    """One expectation checked: as text, whether it held, what was measured, why it failed."""

    expect: str          # the expectation, as text
    passed: bool
    value: Any           # what was measured
    detail: str = ""     # why it failed

    def json(self) -> dict[str, Any]:
        """The verdict as the JSON documents write it (`detail` only when there is one)."""
        out = {"expect": self.expect, "passed": self.passed, "value": self.value}
        if self.detail:
            out["detail"] = self.detail
        return out


def describe(expectation: CallExpectation | MetricExpectation) -> str:
    """The expectation as text, as the tables and reports show it (`call 2: outcome busy`)."""
    if isinstance(expectation, MetricExpectation):
        if expectation.between is not None:
            lo, hi = expectation.between
            return f"{expectation.metric} between {lo:g} and {hi:g}"
        for word, bound in _BOUNDS:
            value = getattr(expectation, bound)
            if value is not None:
                return f"{expectation.metric} {word} {value:g}"
        raise AssertionError("a metric expectation has a bound")
    wanted = [f"{key} {_text(getattr(expectation, key))}" for key in _CALL_KEYS
              if getattr(expectation, key) is not None]
    return f"call {expectation.call}: " + ", ".join(wanted or ["ends"])


def _text(value: Any) -> str:
    return str(getattr(value, "value", value)).lower() if isinstance(value, bool) or hasattr(value, "value") else str(value)


def _actual(record: CallbackRecord, key: str) -> Any:
    if key == "told":
        return list(record.notices)
    if key == "room":
        return record.room is not None
    if key == "audio":
        return audio_of(record)
    if key == "attempts":
        return len(record.attempts)
    return getattr(record, key)


def audio_of(record: CallbackRecord) -> str | None:
    """The call's audio: what a SIP replay measured on the wire (its records carry
    `audio`; None: it could not watch), else the model's word: ``two_way`` once the
    call was bridged, ``none`` if it never was."""
    if hasattr(record, "audio"):
        return getattr(record, "audio")
    return "two_way" if "bridged" in record.times else "none"


def check_call(expectation: CallExpectation, records: Mapping[str, CallbackRecord]) -> Verdict:
    """Check a call's record against each key given; a call that never happened fails."""
    text = describe(expectation)
    record = records.get(str(expectation.call))
    if record is None:
        return Verdict(text, False, None, f"call {expectation.call} never happened")
    misses, seen = [], {}
    for key in _CALL_KEYS:
        wanted = getattr(expectation, key)
        if wanted is None:
            continue
        wanted = getattr(wanted, "value", wanted)
        actual = _actual(record, key)
        seen[key] = actual
        ok = wanted in actual if key == "told" else actual == wanted
        if not ok:
            why = getattr(record, "audio_detail", "") if key == "audio" else ""
            misses.append(f"{key} was {actual!r}, expected {wanted!r}" + (f" ({why})" if why else ""))
    return Verdict(text, not misses, seen, "; ".join(misses))


def check_metric(expectation: MetricExpectation, metrics: Mapping[str, float | None]) -> Verdict:
    """Check a metric's value against its bound; a metric nothing was measured for fails."""
    text = describe(expectation)
    value = metrics.get(expectation.metric)
    if value is None:
        return Verdict(text, False, None, "nothing to measure (no call reached that stage)")
    if expectation.between is not None:
        lo, hi = expectation.between
        passed, bound = lo <= value <= hi, f"outside [{lo:g}, {hi:g}]"
    else:
        word, key = next((w, k) for w, k in _BOUNDS if getattr(expectation, k) is not None)
        limit = getattr(expectation, key)
        passed, bound = _HOLDS[key](value, limit), f"not {word} {limit:g}"
    return Verdict(text, passed, value, "" if passed else f"{value:.4g} is {bound}")


def check_all(expectations: list[CallExpectation | MetricExpectation],
              records: list[CallbackRecord], metrics: Mapping[str, float | None]) -> list[Verdict]:
    """Check every expectation: calls against the records by number, metrics against `metrics`."""
    by_id = {record.id: record for record in records}
    return [check_call(e, by_id) if isinstance(e, CallExpectation) else check_metric(e, metrics)
            for e in expectations]


def check_clean(open_at_end: Mapping[str, int]) -> Verdict:
    """After the last call nothing may be left: no live call, room, code, leg or timer."""
    left = {what: n for what, n in open_at_end.items() if n}
    detail = ", ".join(f"{n} {what}" for what, n in left.items())
    return Verdict("nothing left open after the last call", not left, dict(open_at_end),
                   f"left open: {detail}" if left else "")


__all__ = ["Verdict", "audio_of", "describe", "check_all", "check_clean", "format_seconds"]
