"""Placement rules: which server takes a new room, among those it fits on.

`least_loaded` (the balancer's default) picks the server whose fullest limit
is the lowest, the first one on a tie; `first_fit` fills servers in order
(the fewest servers busy, e.g. to let others scale down); `round_robin`
takes turns, skipping servers the room does not fit on.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from .capacity import Demand, Server

Placement = Callable[[Sequence[Server], Demand], "Server | None"]


def least_loaded(servers: Sequence[Server], demand: Demand) -> Server | None:
    """The server the room fits on whose fullest limit is the lowest; the first on a tie."""
    best, lowest = None, math.inf
    for server in servers:                 # a plain loop: this runs for every room
        if server.fits(demand):
            load = server.load
            if load < lowest:
                best, lowest = server, load
    return best


def first_fit(servers: Sequence[Server], demand: Demand) -> Server | None:
    """The first server the room fits on, in order: the fewest servers busy."""
    return next((server for server in servers if server.fits(demand)), None)


class RoundRobin:
    """Takes turns: the next server after the last one used that the room fits on."""

    def __init__(self) -> None:
        self._last = -1

    def __call__(self, servers: Sequence[Server], demand: Demand) -> Server | None:
        count = len(servers)
        for step in range(1, count + 1):
            server = servers[(self._last + step) % count]
            if server.fits(demand):
                self._last = server.index
                return server
        return None


PLACEMENTS = ("least_loaded", "round_robin", "first_fit")


def placement(name: str) -> Placement:
    """The rule of that name (a fresh one: round robin keeps its turn)."""
    rules: dict[str, Callable[[], Placement]] = {
        "least_loaded": lambda: least_loaded, "first_fit": lambda: first_fit,
        "round_robin": RoundRobin,
    }
    if name not in rules:
        raise ValueError(f"unknown placement {name!r} (one of {', '.join(PLACEMENTS)})")
    return rules[name]()
