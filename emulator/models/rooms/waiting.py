"""Room requests waiting for a server with room (`when_full: queue`), first come first served.

An `OrderedDict` keyed by callback: the head is served in O(1), and the
request of a call that ended meanwhile is taken out in O(1) too, so the
queue only ever holds live calls.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .capacity import Demand


@dataclass(eq=False)
class Request:
    """A call's request for a room: what the room will reserve, and since when it waits."""

    callback_id: str
    template: str
    demand: Demand
    since: float             # when the room was asked for

    def __init__(self, callback_id: str, template: str, demand: Demand, since: float) -> None:
        self.callback_id = callback_id
        self.template = template
        self.demand = demand
        self.since = since


class Waiting:
    """The room requests waiting for a server, first come first served, keyed by callback."""

    def __init__(self) -> None:
        self._queue: OrderedDict[str, Request] = OrderedDict()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, request: Request) -> None:
        """Queue a request behind those already waiting."""
        self._queue[request.callback_id] = request

    def head(self) -> Request | None:
        """The request that has waited longest, served next; None if nobody waits."""
        return next(iter(self._queue.values()), None)

    def pop_head(self) -> Request:
        """Take out the request that has waited longest."""
        return self._queue.popitem(last=False)[1]

    def remove(self, callback_id: str) -> Request | None:
        """Take out the call's request wherever it waits (the call ended, or waited too long)."""
        return self._queue.pop(callback_id, None)

    def holds(self, request: Request) -> bool:
        """Whether this very request still waits (not served, dropped or given up meanwhile)."""
        return self._queue.get(request.callback_id) is request
