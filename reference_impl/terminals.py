"""Which desk phones our own calls hold, so a centre's next free one is dialled.

Terminals of a centre are hunted in the directory's order (the first free
one); a heap of indexes keeps a seize at O(log n) for centres of thousands.
"""

from __future__ import annotations

import heapq
from typing import Iterable

from .directory import Directory


class TerminalPool:
    """The desk phones of every centre, and which of them our calls hold."""

    def __init__(self, directory: Directory) -> None:
        self._numbers: dict[str, tuple[str, ...]] = {
            name: centre.terminals for name, centre in directory.centres.items()}
        self._free: dict[str, list[int]] = {
            name: list(range(len(numbers))) for name, numbers in self._numbers.items()}
        self._held: dict[str, tuple[str, int]] = {}    # number -> (centre, index)
        # Agents on duty per centre (shifts); a centre not named has every phone staffed.
        self._on_duty: dict[str, int] = {}

    def seize(self, centre: str, exclude: Iterable[str] = ()) -> str | None:
        """Hold the first free terminal of `centre` not in `exclude`; None if there is none."""
        free, numbers = self._free[centre], self._numbers[centre]
        if self._on_duty and self.busy(centre) >= self._on_duty.get(centre, len(numbers)):
            return None                # every agent on duty is on a call
        skipped: list[int] = []
        found: str | None = None
        skip = set(exclude)
        while free:
            index = heapq.heappop(free)
            if numbers[index] in skip:
                skipped.append(index)
                continue
            found = numbers[index]
            self._held[found] = (centre, index)
            break
        for index in skipped:
            heapq.heappush(free, index)
        return found

    def release(self, terminal: str) -> str:
        """Free a terminal; returns its centre."""
        centre, index = self._held.pop(terminal)
        heapq.heappush(self._free[centre], index)
        return centre

    def set_on_duty(self, centre: str, agents: int) -> None:
        """How many of `centre`'s desk phones have an agent from now on: an agent who goes
        off duty finishes the call in hand, and no phone is seized past that many."""
        self._on_duty[centre] = agents

    def on_duty(self, centre: str) -> int:
        """How many agents are on duty at `centre` (every desk phone, without shifts)."""
        return self._on_duty.get(centre, len(self._numbers[centre]))

    def busy(self, centre: str) -> int:
        """How many desk phones of `centre` our calls hold."""
        return len(self._numbers[centre]) - len(self._free[centre])

    def size(self, centre: str) -> int:
        """How many desk phones `centre` has."""
        return len(self._numbers[centre])
