"""The ladder of one callback: every event and command with its simulated time.

Byte-identical for the same scenario and seed: times are printed with fixed
decimals and values in a canonical form.
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from reference_impl import flow as f


def _value(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, frozenset):
        return "[" + ",".join(sorted(map(str, value))) + "]"
    if isinstance(value, f.ServiceRoute):
        return ">".join(c.name for c in value.centres) or "(none)"
    return str(value)


def describe(item: f.Event | f.Command) -> str:
    parts = [f"{field.name}={_value(getattr(item, field.name))}" for field in fields(item)
             if getattr(item, field.name) not in (None, "")]
    return " ".join([type(item).__name__, *parts])


class Ladder:
    """An observer of the switchboard that keeps the lines of one callback."""

    def __init__(self, callback_id: str) -> None:
        self.callback_id = callback_id
        self.lines: list[str] = []

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        if callback_id == self.callback_id:
            self.lines.append(f"{now:12.3f}s  --> {describe(event)}")

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        if callback_id == self.callback_id:
            self.lines.append(f"{now:12.3f}s  <-- {describe(command)}")
