"""The SIP messages the PBX sends and receives, kept for ladders and diagnostics.

sippy hands every message it sends or receives to its logger; `MessageTap`
stands in for that logger and turns each message into a `SipMessage`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

_HEADER = re.compile(r"^(from|f|to|t|call-id|i)\s*:\s*(.*)$", re.IGNORECASE)
_USER = re.compile(r"sips?:([^@;>\s]+)@")
_NAMES = {"f": "from", "t": "to", "i": "call-id"}


@dataclass(frozen=True, slots=True)
class SipMessage:
    """One SIP message sent or received: when, which way, what, and between whom."""

    at: float             # seconds, on the tap's clock
    direction: str        # "in" or "out"
    what: str             # the method, or the status code and reason
    from_user: str
    to_user: str
    call_id: str

    def line(self) -> str:
        """The message as one line of a ladder: arrow, method or status, users, Call-ID."""
        arrow = "-->" if self.direction == "in" else "<--"
        return (f"{arrow} SIP {self.what} from={self.from_user} to={self.to_user} "
                f"call-id={self.call_id}")


def parse(text: str, direction: str, at: float) -> SipMessage | None:
    """The `SipMessage` of a message's text; None if its first line is empty."""
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    first = lines[0].strip()
    if not first:
        return None
    if first.startswith("SIP/2.0 "):
        what = first[8:]
    else:
        what = first.split(" ", 1)[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line.strip():
            break
        match = _HEADER.match(line)
        if match:
            name = match.group(1).lower()
            headers.setdefault(_NAMES.get(name, name), match.group(2).strip())

    def user(value: str) -> str:
        found = _USER.search(value)
        return found.group(1) if found else value

    return SipMessage(at, direction, what, user(headers.get("from", "")),
                      user(headers.get("to", "")), headers.get("call-id", ""))


class MessageTap:
    """A stand-in for sippy's SipLogger: every message goes to `sink`."""

    level = 0

    def __init__(self, sink: Callable[[SipMessage], None] | None,
                 clock: Callable[[], float] = time.monotonic,
                 on_received_delay: Callable[[float], None] | None = None) -> None:
        """`on_received_delay` is told, for each datagram received, how long it waited
        between the socket and the reactor (sippy gives its receive time)."""
        self.sink = sink
        self.clock = clock
        self.on_received_delay = on_received_delay

    def write(self, *args: Any, **kwargs: Any) -> None:
        """sippy's logger call: one message sent or received."""
        if self.on_received_delay is not None and kwargs.get("ltime") is not None:
            self.on_received_delay(time.time() - kwargs["ltime"])
        if self.sink is None or len(args) < 2:
            return
        header, data = str(args[0]), args[1]
        direction = "in" if header.startswith("RECEIVED") else "out" if header.startswith("SENDING") else ""
        if not direction:
            return
        text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
        message = parse(text, direction, self.clock())
        if message is not None:
            self.sink(message)

    def shutdown(self) -> None:
        """Nothing to flush."""
        return None
