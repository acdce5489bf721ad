"""The one interface to time the models use, so they run in either time domain.

The drivers implement it: `drivers.clock.SimClock` on a SimPy environment
(simulated time), `drivers.clock.LoopClock` on an asyncio loop (real time).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol


class Clock(Protocol):
    """Now, and a call later: all a model needs of time."""

    def now(self) -> float:
        """Seconds since the start."""
    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Call `action(*args)` after `delay` seconds."""
