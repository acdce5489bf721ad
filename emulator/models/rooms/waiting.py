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
    callback_id: str
    template: str
    demand: Demand
    since: float             # when the room was asked for


class Waiting:
    def __init__(self) -> None:
        self._queue: OrderedDict[str, Request] = OrderedDict()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, request: Request) -> None:
        self._queue[request.callback_id] = request

    def head(self) -> Request | None:
        return next(iter(self._queue.values()), None)

    def pop_head(self) -> Request:
        return self._queue.popitem(last=False)[1]

    def remove(self, callback_id: str) -> Request | None:
        return self._queue.pop(callback_id, None)

    def holds(self, request: Request) -> bool:
        return self._queue.get(request.callback_id) is request
