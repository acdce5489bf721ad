"""Starting again after a crash, and stopping without losing anything.

`reconcile` runs at start, before any new request: every record the store
holds that is not ended is finished. A request that was accepted but never
dialled (state `idle`) is dialled now, or at the time it asked for; a pending one (scheduled, or waiting to
be called again) waits again for its time, its calls so far kept; a call that was under way is ended with
the outcome `system_restart`, its SIP legs ended from their stored dialogs
(a BYE to a phone in the call, a CANCEL to one still ringing: no phone stays
in a call with a dead system, none rings for it), and while that goes on its
connection code stays out of the pool. `drain` runs on SIGTERM: new requests
are refused, live calls are given a while to finish, then ended politely (the
flow's `SystemStopping`: BYE or CANCEL to each leg, rooms deleted, pages told),
and every record is written before the process exits.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from . import flow as f
from .records import CallbackRecord
from .switchboard import Switchboard

IDLE = f.State.IDLE.value
ENDED = f.State.ENDED.value
PENDING = frozenset({f.State.SCHEDULED.value, f.State.SCHEDULING.value})   # wait for their time

# (callback, leg, the dialog's state as JSON) -> whether the phone answered the BYE.
HangUpDialogs = Callable[[list[tuple[str, str, str]]], dict[tuple[str, str], bool]]


class Unfinished(Protocol):
    """What reconciliation needs of the store."""

    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended."""
    def dialogs(self) -> list[tuple[str, str, str]]:
        """The stored SIP dialogs."""
    def put_many(self, records: list[CallbackRecord],
                 dialogs: list[tuple[str, str, str | None]]) -> None:
        """Store records and set or clear dialogs."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What a restart did with one unfinished record (shown on the operations page)."""

    callback_id: str
    was: str                 # the state the record was left in
    action: str              # "dialled" or "ended"
    code: str | None
    legs_hung_up: int = 0    # SIP legs sent a BYE (or, ringing, a CANCEL) from their stored dialog
    legs_answered: int = 0   # of them, those whose phone answered it


def reconcile(switchboard: Switchboard, store: Unfinished,
              hang_up: HangUpDialogs | None = None) -> list[Reconciled]:
    """Finish every unfinished record (see the module); what was done with each."""
    unfinished = store.unfinished()
    under_way = [r for r in unfinished if r.state != IDLE and r.state not in PENDING]
    for record in under_way:                  # nobody may be given these codes meanwhile
        if record.code:
            switchboard.codes.reserve(record.code, f"reconciling {record.id}")
    ending = {r.id for r in under_way}
    dialogs = [d for d in store.dialogs() if d[0] in ending]
    answered = hang_up(dialogs) if hang_up is not None and dialogs else {}
    done: list[Reconciled] = []
    closed: list[CallbackRecord] = []
    for record in under_way:
        legs = [d for d in dialogs if d[0] == record.id]
        closed.append(_ended(record, len(legs)))
        done.append(Reconciled(record.id, record.state, "ended", record.code, len(legs),
                               sum(answered.get((d[0], d[1]), False) for d in legs)))
    store.put_many(closed, [(cid, leg, None) for cid, leg, _ in dialogs])
    for record in under_way:
        if record.code and switchboard.codes.owner(record.code) == f"reconciling {record.id}":
            switchboard.codes.release(record.code)
    for record in unfinished:
        if record.state == IDLE:
            _dial_again(switchboard, record)
            done.append(Reconciled(record.id, record.state, "dialled", None))
        elif record.state in PENDING:
            switchboard.resume(record, _due(record, switchboard.epoch))
            done.append(Reconciled(record.id, record.state, "waits again", None))
    return done


def _due(record: CallbackRecord, epoch: float | None) -> float:
    """When a pending callback's next call is due, on this process's flow clock."""
    if record.next_attempt_at is None:
        return 0.0
    if record.epoch is None or epoch is None:
        return record.next_attempt_at
    return record.epoch + record.next_attempt_at - epoch


def _ended(record: CallbackRecord, legs: int) -> CallbackRecord:
    """The record closed as the restart closes it."""
    detail = (f"the system restarted while the call was {record.state}; "
              f"{legs} leg(s) hung up from their stored dialogs")
    last = max(record.times.values(), default=0.0)
    return replace(record, state=ENDED, outcome=f.Outcome.SYSTEM_RESTART.value,
                   times={**record.times, "ended": last},
                   timeline=(*record.timeline, f.Step(last, "system restart", detail),
                             f.Step(last, "ended", f.Outcome.SYSTEM_RESTART.value)))


def _dial_again(switchboard: Switchboard, record: CallbackRecord) -> None:
    """An accepted request that was never dialled: accept it again, under its own id."""
    asked = None if record.next_attempt_at is None else max(
        _due(record, switchboard.epoch), switchboard.clock())
    switchboard.accept(record.form, record.person_number, record.id, asked)
    switchboard.start(record.id)


def dialog_states(rows: list[tuple[str, str, str]]) -> dict[tuple[str, str], dict[str, object]]:
    """Stored dialogs parsed, by (callback, leg)."""
    return {(cid, leg): json.loads(state) for cid, leg, state in rows}


async def drain(switchboard: Switchboard, *, grace: float, settle: float = 5.0,
                legs_up: Callable[[], int] | None = None,
                flush: Callable[[float], bool] | None = None) -> dict[str, int]:
    """Let live calls finish within `grace` seconds, end the rest politely, wait up to
    `settle` for their legs to come down, then write every record; a count of each."""
    started = time.monotonic()
    waiting = lambda: set(switchboard.accepted()) | set(switchboard.pending())  # noqa: E731
    under_way = lambda: [cid for cid in switchboard.live_ids()  # noqa: E731
                         if cid not in waiting()]
    had = len(under_way())
    while under_way() and time.monotonic() - started < grace:
        await asyncio.sleep(0.05)
    stopped = under_way()
    for callback_id in stopped:
        switchboard.deliver(callback_id, f.SystemStopping())
    deadline = time.monotonic() + settle
    while legs_up is not None and legs_up() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    written = flush(settle) if flush is not None else True
    return {"live": had, "finished": had - len(stopped), "ended": len(stopped),
            "accepted": len(switchboard.accepted()), "pending": len(switchboard.pending()),
            "written": int(written)}
