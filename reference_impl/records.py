"""Callback records: every field of DESIGN.md plus the timeline of each step.

Two stores with one interface: `MemoryRecords` for the emulator and tests,
`SqliteRecords` (a file, or ":memory:") for the real system. The switchboard
writes a record when the callback starts and when it ends, and at every step
when asked to (`save_every_step`, for live pages); `put` replaces the whole
record in one transaction, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol

from .flow import Callback, Step


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackRecord:
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
    times: Mapping[str, float] = field(default_factory=dict)
    timeline: tuple[Step, ...] = ()


def record_of(callback: Callback, form: Mapping[str, str]) -> CallbackRecord:
    """A snapshot of a callback as its record."""
    return CallbackRecord(
        id=callback.callback_id, form=dict(form), person_number=callback.person_number,
        service_code=callback.service_code, state=callback.state.value,
        outcome=callback.outcome.value if callback.outcome else None,
        centre=callback.centre, terminal=callback.terminal,
        terminals_dialled=tuple(callback.terminals_dialled), code=callback.code,
        room=callback.room, room_routing=callback.room_routing,
        room_refused=callback.room_refused,
        notices=tuple(n.value for n in callback.notices), failovers=callback.failovers,
        ended_by=callback.ended_by.value if callback.ended_by else None,
        times=dict(callback.times), timeline=tuple(callback.timeline))


class RecordStore(Protocol):
    def put(self, record: CallbackRecord) -> None: ...
    def get(self, callback_id: str) -> CallbackRecord | None: ...
    def __iter__(self) -> Iterator[CallbackRecord]: ...
    def __len__(self) -> int: ...


class MemoryRecords:
    def __init__(self) -> None:
        self._records: dict[str, CallbackRecord] = {}

    def put(self, record: CallbackRecord) -> None:
        self._records[record.id] = record

    def get(self, callback_id: str) -> CallbackRecord | None:
        return self._records.get(callback_id)

    def __iter__(self) -> Iterator[CallbackRecord]:
        return iter(list(self._records.values()))

    def __len__(self) -> int:
        return len(self._records)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, form TEXT NOT NULL, person_number TEXT NOT NULL,
    service_code TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, centre TEXT,
    terminal TEXT, terminals_dialled TEXT NOT NULL, code TEXT, room TEXT,
    room_routing TEXT, room_refused INTEGER NOT NULL, notices TEXT NOT NULL,
    failovers INTEGER NOT NULL, ended_by TEXT, times TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timeline (
    callback_id TEXT NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, at REAL NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (callback_id, seq));
CREATE INDEX IF NOT EXISTS callbacks_code ON callbacks(code);
"""

_COLUMNS = ("id", "form", "person_number", "service_code", "state", "outcome", "centre",
            "terminal", "terminals_dialled", "code", "room", "room_routing", "room_refused",
            "notices", "failovers",
            "ended_by", "times")


class SqliteRecords:
    """Records in a SQLite file; the schema is created on first use."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)

    def put(self, record: CallbackRecord) -> None:
        row = (record.id, json.dumps(dict(record.form)), record.person_number,
               record.service_code, record.state, record.outcome, record.centre,
               record.terminal, json.dumps(list(record.terminals_dialled)), record.code,
               record.room, record.room_routing, int(record.room_refused),
               json.dumps(list(record.notices)), record.failovers, record.ended_by,
               json.dumps(dict(record.times)))
        steps = [(record.id, i, s.at, s.what, s.detail) for i, s in enumerate(record.timeline)]
        with self._db:                   # one transaction: all of the record or none
            self._db.execute(f"INSERT OR REPLACE INTO callbacks VALUES "
                             f"({', '.join('?' * len(_COLUMNS))})", row)
            self._db.execute("DELETE FROM timeline WHERE callback_id = ?", (record.id,))
            self._db.executemany("INSERT INTO timeline VALUES (?, ?, ?, ?, ?)", steps)

    def get(self, callback_id: str) -> CallbackRecord | None:
        row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM callbacks WHERE id = ?",
                               (callback_id,)).fetchone()
        return None if row is None else self._record(row)

    def _record(self, row: tuple[object, ...]) -> CallbackRecord:
        values = dict(zip(_COLUMNS, row))
        steps = self._db.execute("SELECT at, what, detail FROM timeline WHERE callback_id = ? "
                                 "ORDER BY seq", (values["id"],)).fetchall()
        return CallbackRecord(
            id=str(values["id"]), form=json.loads(str(values["form"])),
            person_number=str(values["person_number"]),
            service_code=str(values["service_code"]), state=str(values["state"]),
            outcome=_text(values["outcome"]), centre=_text(values["centre"]),
            terminal=_text(values["terminal"]),
            terminals_dialled=tuple(json.loads(str(values["terminals_dialled"]))),
            code=_text(values["code"]), room=_text(values["room"]),
            room_routing=_text(values["room_routing"]),
            room_refused=bool(values["room_refused"]),
            notices=tuple(json.loads(str(values["notices"]))), failovers=int(str(values["failovers"])),
            ended_by=_text(values["ended_by"]), times=json.loads(str(values["times"])),
            timeline=tuple(Step(at, what, detail) for at, what, detail in steps))

    def __iter__(self) -> Iterator[CallbackRecord]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM callbacks ORDER BY rowid")
        return iter([self._record(row) for row in rows.fetchall()])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM callbacks").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _text(value: object) -> str | None:
    return None if value is None else str(value)
