"""The `Notifier` port: what the flow tells the person reaches their status page.

Each callback keeps its notices in order, so a page that connects late (or
reloads) sees the whole story; listeners (the open websockets) get each new
one as it happens. Only the most recent callbacks are kept: memory stays
bounded however many calls the app serves.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from ..flow import Notice

# What the person reads, for each notice.
TEXTS: Mapping[Notice, str] = MappingProxyType({
    Notice.CALLING: "We are calling you now. Please keep your phone at hand.",
    Notice.CONNECTING: "You answered. Connecting you to an advisor…",
    Notice.CONNECTED: "You are talking to an advisor. Your video room is opening…",
    Notice.ROOM_READY: "Your video room is ready.",
    Notice.ROOM_UNAVAILABLE: "The video room could not be opened: your call goes on by phone.",
    Notice.ENDED: "The call has ended. Thank you for talking to us.",
    Notice.BUSY: "We could not reach you: the line was busy.",
    Notice.NO_ANSWER: "We could not reach you: nobody answered the phone.",
    Notice.REJECTED: "We could not reach you: the call was declined.",
    Notice.INVALID_NUMBER: "We could not reach you: that number does not exist.",
    Notice.NO_AGENT: "Sorry, no advisor could take your call right now. Please try again later.",
    Notice.NO_TRUNK: "Sorry, all our lines are busy. Please try again in a few minutes.",
    Notice.UNAVAILABLE: "Sorry, the service is unavailable right now. Please try again later.",
    Notice.SCHEDULED: "We will call you {when}.",
    Notice.RETRY_LATER: "We could not reach you. We will try again {when}.",
    Notice.CANCELLED: "You cancelled your callback: we will not call you.",
})

# Notices after which nothing more will come for that callback.
FINAL = frozenset({Notice.ENDED, Notice.BUSY, Notice.NO_ANSWER, Notice.REJECTED,
                   Notice.INVALID_NUMBER, Notice.NO_AGENT, Notice.NO_TRUNK,
                   Notice.UNAVAILABLE, Notice.CANCELLED})
# Notices that say when the next call comes (the page is given the time).
TIMED = frozenset({Notice.SCHEDULED, Notice.RETRY_LATER})


@dataclass(frozen=True, slots=True)
class Told:
    """One notice as told to a callback's page, with the room to open, if any."""

    notice: Notice
    room: str | None

    @property
    def final(self) -> bool:
        """Whether nothing more will be told for this callback."""
        return self.notice in FINAL


Listener = Callable[[str, Told], None]


class PageNotifier:
    """The `Notifier` port: each callback's notices, kept for its page and told to listeners."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._told: OrderedDict[str, list[Told]] = OrderedDict()
        self._listeners: dict[str, set[Listener]] = {}
        self._everyone: list[Listener] = []     # the app's own hooks (rooms, tickets)

    # -- the Notifier port ---------------------------------------------------

    def notify(self, callback_id: str, notice: Notice, room: str | None) -> None:
        """Keep a notice for the callback and tell the app's hooks and its pages at once."""
        told = Told(notice, room)
        self._told.setdefault(callback_id, []).append(told)
        self._told.move_to_end(callback_id)
        while len(self._told) > self.keep:
            self._told.popitem(last=False)
        for listener in [*self._everyone, *self._listeners.get(callback_id, ())]:
            listener(callback_id, told)

    # -- pages ---------------------------------------------------------------

    def history(self, callback_id: str) -> list[Told]:
        """Every notice told to a callback so far, in order (none once it is forgotten)."""
        return list(self._told.get(callback_id, ()))

    def latest(self, count: int) -> list[str]:
        """The callbacks told something most recently, newest first."""
        ids: list[str] = []
        for callback_id in reversed(self._told):
            if len(ids) >= count:
                break
            ids.append(callback_id)
        return ids

    def listen(self, callback_id: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` on each new notice of a callback; returns the way to stop."""
        self._listeners.setdefault(callback_id, set()).add(listener)

        def stop() -> None:
            listeners = self._listeners.get(callback_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[callback_id]
        return stop

    def listen_all(self, listener: Listener) -> None:
        """Call `listener` on every notice of every callback (the app's own hooks)."""
        self._everyone.append(listener)
