"""The one place that builds a switchboard with its ports, for every driver.

Ports report back through the switchboard's `deliver`, and the switchboard
needs its ports; so each port comes from a factory handed that `deliver`
once the switchboard exists (no trampoline: the ports call it straight).
The emulator's simulation, the asyncio `Runtime` (and through it the web
app, `serve` and the SIP replay) and the benchmarks all wire here.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .codes import CodePool
from .directory import Directory
from .ports import Clock, Deliver, NoNotifier, Notifier, Rooms, Telephony, Timers
from .records import RecordStore
from .flow import CallbackPolicy
from .switchboard import Calendar, Ports, Switchboard


def wire(*, directory: Directory, codes: CodePool, clock: Clock,
         telephony: Callable[[Deliver], Telephony], rooms: Callable[[Deliver], Rooms],
         timers: Callable[[Deliver], Timers], notifier: Notifier | None = None,
         records: RecordStore | None = None, person_ring_timeout: float = 30.0,
         caller_id: str = "", observers: Iterable[object] = (),
         save_every_step: bool = False, timelines: bool = True,
         policy: CallbackPolicy | None = None, calendar: Calendar | None = None,
         dedupe: bool = False) -> Switchboard:
    """A switchboard whose ports are built by the factories given, and its observers.

    `save_every_step` stores each record at every step (live pages read them);
    `timelines` keeps each callback's step-by-step timeline (off in load runs);
    `policy`, `calendar` and `dedupe`: see `Switchboard`.
    """
    switchboard = Switchboard(directory=directory, codes=codes, clock=clock, records=records,
                              person_ring_timeout=person_ring_timeout, caller_id=caller_id,
                              save_every_step=save_every_step, timelines=timelines,
                              policy=policy, calendar=calendar, dedupe=dedupe)
    deliver = switchboard.deliver
    switchboard.plug(Ports(telephony=telephony(deliver), rooms=rooms(deliver),
                           notifier=notifier or NoNotifier(), timers=timers(deliver)))
    for observer in observers:
        switchboard.watch(observer)
    return switchboard
