"""A small scripted telephony for the web tests: phones that answer at once.

The web tests exercise the app, not the PBX: each dialled phone answers on
the next turn of the loop (or fails as told), and the PBX bridges at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from reference_impl import flow as f
from reference_impl.directory import Centre, Directory, Service
from reference_impl.runtime import Runtime


class AnsweringPhones:
    """The Telephony port: every leg rings and answers; `fail[number]` fails it instead,
    a number in `ring_only` rings until cancelled, and with `hold_bridge` the bridge
    waits for `release_bridge`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.fail: dict[str, f.FailReason] = {}
        self.ring_only: set[str] = set()
        self.hold_bridge = False
        self.held: set[str] = set()
        self.up: set[tuple[str, str]] = set()

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        later = self.runtime.loop.call_soon
        if number in self.fail:
            later(self.runtime.deliver, callback_id, f.LegFailed(leg=leg, reason=self.fail[number]))
            return
        self.up.add((callback_id, leg))
        later(self.runtime.deliver, callback_id, f.LegRinging(leg=leg))
        if number not in self.ring_only:
            later(self.runtime.deliver, callback_id, f.LegAnswered(leg=leg))

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        self.up.discard((callback_id, leg))

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        if self.hold_bridge:
            self.held.add(callback_id)
            return
        self.runtime.loop.call_soon(self.runtime.deliver, callback_id, f.Bridged())

    def release_bridge(self, callback_id: str) -> None:
        self.held.discard(callback_id)
        self.runtime.deliver(callback_id, f.Bridged())

    def person_hangs_up(self, callback_id: str) -> bool:
        if (callback_id, f.PERSON_LEG) not in self.up:
            return False
        self.up.discard((callback_id, f.PERSON_LEG))
        self.runtime.deliver(callback_id, f.LegHungUp(leg=f.PERSON_LEG))
        return True


def directory() -> Directory:
    return Directory(
        services={"mortgages": Service(code="mortgages", centres=("madrid",), label="Mortgages"),
                  "insurance": Service(code="insurance", centres=("madrid",), label="Insurance")},
        centres={"madrid": Centre(name="madrid", terminals=("+34910000001", "+34910000002"),
                                  ring_timeout=15.0)})


async def until(check: Callable[[], Any], seconds: float = 3.0) -> Any:
    """Poll `check` on the loop until it returns something true; fail after `seconds`."""
    for _ in range(int(seconds / 0.01)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting")
