"""The callback record, a snapshot of a callback, and the in-memory store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol

from mypy_extensions import mypyc_attr

from ..flow import Attempt, Callback, Step


# Not frozen, as the flow's events are not: a load run makes one per callback,
# and a frozen one's sixteen fields cost twice as much to set. Nothing changes a
# record once made; a store replaces it with the next snapshot. Compiled, it stays open
# to subclasses of interpreted code (the SIP replay's `AudioRecord`).
@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass(kw_only=True, slots=True)
class CallbackRecord:
    """A callback as stored: what was asked, where the call went, how it ended, each step."""

    id: str
    form: Mapping[str, str]
    person_number: str
    service_code: str
    state: str
    outcome: str | None = None
    centre: str | None = None              # the centre dialled last (the one that answered)
    terminal: str | None = None            # the desk phone dialled last
    terminals_dialled: tuple[str, ...] = ()
    code: str | None = None                # the connection code shown as caller ID
    room: str | None = None
    room_routing: str | None = None        # which room server hosts the room
    room_refused: bool = False             # no server could open it: audio only
    notices: tuple[str, ...] = ()          # what the person's page was told, in order
    failovers: int = 0
    ended_by: str | None = None
    agent: str | None = None               # the agent who typed the code (named sign-in)
    attempts: tuple[Attempt, ...] = ()     # every call to the person, in order
    next_attempt_at: float | None = None   # when the next call is due (scheduled, retrying)
    duplicate_of: str | None = None        # the callback this request repeated
    epoch: float | None = None             # wall-clock seconds of its flow time 0, if real
    times: Mapping[str, float] = field(default_factory=dict)
    timeline: tuple[Step, ...] = ()

    def __init__(self, *, id: str, form: Mapping[str, str], person_number: str, service_code: str,
                 state: str, outcome: str | None = None, centre: str | None = None,
                 terminal: str | None = None, terminals_dialled: tuple[str, ...] = (),
                 code: str | None = None, room: str | None = None,
                 room_routing: str | None = None, room_refused: bool = False,
                 notices: tuple[str, ...] = (), failovers: int = 0, ended_by: str | None = None,
                 agent: str | None = None, attempts: tuple[Attempt, ...] = (),
                 next_attempt_at: float | None = None, duplicate_of: str | None = None,
                 epoch: float | None = None, times: Mapping[str, float] | None = None,
                 timeline: tuple[Step, ...] = ()) -> None:
        self.id = id
        self.form = form
        self.person_number = person_number
        self.service_code = service_code
        self.state = state
        self.outcome = outcome
        self.centre = centre
        self.terminal = terminal
        self.terminals_dialled = terminals_dialled
        self.code = code
        self.room = room
        self.room_routing = room_routing
        self.room_refused = room_refused
        self.notices = notices
        self.failovers = failovers
        self.ended_by = ended_by
        self.agent = agent
        self.attempts = attempts
        self.next_attempt_at = next_attempt_at
        self.duplicate_of = duplicate_of
        self.epoch = epoch
        self.times = {} if times is None else times
        self.timeline = timeline


def record_of(callback: Callback, form: Mapping[str, str], *,
              final: bool = False, epoch: float | None = None) -> CallbackRecord:
    """A snapshot of a callback as its record.

    `final`: the callback has ended and the flow will not touch it again, so
    its stage times and its attempts are handed over rather than copied (one
    record per callback, on a load run's hot path). The form is the caller's:
    always copied.
    """
    # `_value_`, the member's plain attribute, not Enum's `value` property: two
    # Python calls fewer per enum, and a load run makes one record per callback.
    return CallbackRecord(
        id=callback.callback_id, form=dict(form),
        person_number=callback.person_number,
        service_code=callback.service_code, state=callback.state._value_,
        outcome=callback.outcome._value_ if callback.outcome else None,
        centre=callback.centre, terminal=callback.terminal,
        terminals_dialled=tuple(callback.terminals_dialled), code=callback.code,
        room=callback.room, room_routing=callback.room_routing,
        room_refused=callback.room_refused,
        notices=tuple([n._value_ for n in callback.notices]), failovers=callback.failovers,
        ended_by=callback.ended_by._value_ if callback.ended_by else None,
        agent=callback.agent,
        attempts=tuple(callback.attempts) if final else
        tuple([Attempt(a.leg, a.dialled, a.outcome, a.ended) for a in callback.attempts]),
        next_attempt_at=callback.next_attempt_at, duplicate_of=callback.duplicate_of,
        epoch=epoch,
        times=callback.times if final else dict(callback.times),
        timeline=tuple(callback.timeline))


class RecordStore(Protocol):
    """Where the switchboard keeps records: put, get by id, iterate, count."""

    def put(self, record: CallbackRecord) -> None:
        """Store a record, replacing the one of the same id."""
    def get(self, callback_id: str) -> CallbackRecord | None:
        """The record of a callback; None if none is stored."""
    def __iter__(self) -> Iterator[CallbackRecord]: ...
    def __len__(self) -> int: ...


class ClosableRecordStore(RecordStore, Protocol):
    """A store holding a connection or a file, as `open_records` returns: with batches,
    the records a restart must finish, and the SIP dialogs of their legs."""

    def close(self) -> None:
        """Let go of the connection or the file; the store is not used after."""
    def put_many(self, records: list[CallbackRecord],
                 dialogs: list[tuple[str, str, str | None]]) -> None:
        """Replace several records and set or clear (None) dialogs, in one transaction."""
    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended."""
    def dialogs(self) -> list[tuple[str, str, str]]:
        """Every stored dialog: (callback, leg, its state as JSON)."""


class MemoryRecords:
    """Records in a dict: for the emulator and tests. Iterates in first-put order."""

    def __init__(self) -> None:
        self._records: dict[str, CallbackRecord] = {}
        self._dialogs: dict[tuple[str, str], str] = {}

    def put_many(self, records: list[CallbackRecord],
                 dialogs: list[tuple[str, str, str | None]]) -> None:
        """Replace several records and set or clear (None) dialogs."""
        for record in records:
            self._records[record.id] = record
        for callback_id, leg, state in dialogs:
            if state is None:
                self._dialogs.pop((callback_id, leg), None)
            else:
                self._dialogs[(callback_id, leg)] = state

    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended."""
        return [r for r in self._records.values() if r.state != "ended"]

    def dialogs(self) -> list[tuple[str, str, str]]:
        """Every stored dialog: (callback, leg, its state as JSON)."""
        return [(c, leg, s) for (c, leg), s in sorted(self._dialogs.items())]

    def put(self, record: CallbackRecord) -> None:
        """Store a record, replacing the one of the same id (it keeps its place)."""
        self._records[record.id] = record

    def get(self, callback_id: str) -> CallbackRecord | None:
        """The record of a callback; None if none was put."""
        return self._records.get(callback_id)

    def __iter__(self) -> Iterator[CallbackRecord]:
        return iter(list(self._records.values()))

    def __len__(self) -> int:
        return len(self._records)

    def close(self) -> None:
        """Nothing to release; here so every store closes the same way."""
