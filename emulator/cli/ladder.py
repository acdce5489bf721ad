"""The ladder of one callback: every event and command with its time.

In simulated time the ladder is byte-identical for the same scenario and
seed: times are printed with fixed decimals and values in a canonical form.
Over SIP it also shows the SIP messages of the callback's legs.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from enum import Enum
from typing import Any

from reference_impl import flow as f
from reference_impl.telephony import SipMessage


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


def clock_time(seconds: float) -> str:
    """Seconds from time 0 as a clock time of the day: 08:15:30.250 (+1d after midnight)."""
    millis = round(seconds * 1000)
    days, millis = divmod(millis, 86_400_000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    stamp = f"{hours:02d}:{minutes:02d}:{millis / 1000:06.3f}"
    return f"+{days}d {stamp}" if days else stamp


def describe(item: f.Event | f.Command) -> str:
    """An event or command as one line: its name and the fields that are set."""
    parts = [f"{field.name}={_value(getattr(item, field.name))}" for field in fields(item)
             if getattr(item, field.name) not in (None, "")
             and not (field.default is not MISSING and getattr(item, field.name) == field.default)]
    return " ".join([type(item).__name__, *parts])


class Ladder:
    """An observer of the switchboard (and the SIP PBX) that keeps one callback's lines."""

    def __init__(self, callback_id: str, clock: bool = False) -> None:
        """`clock`: times as clock times of the day (08:15:30.250), not seconds."""
        self.callback_id = callback_id
        self.clock = clock
        self._lines: list[tuple[float, int, str]] = []

    def _add(self, now: float, text: str) -> None:
        stamp = f"{clock_time(now):>13}" if self.clock else f"{now:12.3f}s"
        self._lines.append((now, len(self._lines), f"{stamp}  {text}"))

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """An event of the traced callback."""
        if callback_id == self.callback_id:
            self._add(now, f"--> {describe(event)}")

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """A command of the traced callback."""
        if callback_id == self.callback_id:
            self._add(now, f"<-- {describe(command)}")

    def sip(self, callback_id: str, leg: str, message: SipMessage) -> None:
        """A SIP message of one of the traced callback's legs."""
        if callback_id == self.callback_id:
            self._add(message.at, f"    {leg:<8} {message.line()}")

    @property
    def lines(self) -> list[str]:
        """The ladder, in time order."""
        return [text for _, _, text in sorted(self._lines)]
