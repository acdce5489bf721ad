"""Records to rows and back: the SQL both stores share.

Lists and mappings go in as JSON text (key order kept); the timeline is its own
table, one row per step. Reads are one statement joining both tables, so even
under READ COMMITTED a reader sees a record and its timeline from one commit.
Placeholders are `?`; the PostgreSQL store turns them into `%s`.
"""

from __future__ import annotations

import itertools
import json
from typing import Iterable, Sequence

from ..flow import Attempt, Step
from ._record import CallbackRecord

COLUMNS = ("id", "form", "person_number", "service_code", "state", "outcome", "centre",
           "terminal", "terminals_dialled", "code", "room", "room_routing", "room_refused",
           "notices", "failovers", "ended_by", "times", "agent", "attempts", "next_attempt_at",
           "duplicate_of", "epoch")
_WRITTEN = COLUMNS + ("created_at", "updated_at")

# created_at is left alone on a replace: it is when the callback was first stored.
UPSERT = (f"INSERT INTO callbacks ({', '.join(_WRITTEN)}) "
          f"VALUES ({', '.join('?' * len(_WRITTEN))}) ON CONFLICT (id) DO UPDATE SET "
          + ", ".join(f"{c} = excluded.{c}" for c in _WRITTEN if c not in ("id", "created_at")))
DELETE_STEPS = "DELETE FROM timeline WHERE callback_id = ?"
INSERT_STEP = "INSERT INTO timeline (callback_id, seq, at, what, detail) VALUES (?, ?, ?, ?, ?)"
COUNT = "SELECT count(*) FROM callbacks"

_SELECT = (f"SELECT {', '.join('c.' + c for c in COLUMNS)}, t.seq, t.at, t.what, t.detail "
           "FROM callbacks c LEFT JOIN timeline t ON t.callback_id = c.id")


def select_one() -> str:
    """The statement that reads one record, by id, with its steps in order."""
    return f"{_SELECT} WHERE c.id = ? ORDER BY t.seq"


def select_unfinished(order: str) -> str:
    """Every record not yet ended (a restart's work), in first-put order."""
    return f"{_SELECT} WHERE c.state <> 'ended' ORDER BY c.{order}, t.seq"


UPSERT_DIALOG = ("INSERT INTO dialogs (callback_id, leg, state, updated_at) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (callback_id, leg) DO UPDATE SET state = excluded.state, "
                 "updated_at = excluded.updated_at")
DELETE_DIALOG = "DELETE FROM dialogs WHERE callback_id = ? AND leg = ?"
SELECT_DIALOGS = "SELECT callback_id, leg, state FROM dialogs ORDER BY callback_id, leg"


def select_all(order: str) -> str:
    """Every record, in `order` (the store's first-put order column), steps in order."""
    return f"{_SELECT} ORDER BY c.{order}, t.seq"


def row_of(record: CallbackRecord, now: float) -> tuple[object, ...]:
    """A record as a row of the callbacks table, written at `now` (wall-clock seconds)."""
    return (record.id, json.dumps(dict(record.form)), record.person_number,
            record.service_code, record.state, record.outcome, record.centre,
            record.terminal, json.dumps(list(record.terminals_dialled)), record.code,
            record.room, record.room_routing, bool(record.room_refused),
            json.dumps(list(record.notices)), record.failovers, record.ended_by,
            json.dumps(dict(record.times)), record.agent,
            json.dumps([[a.leg, a.dialled, a.outcome, a.ended] for a in record.attempts]),
            record.next_attempt_at, record.duplicate_of, record.epoch, now, now)


def steps_of(record: CallbackRecord) -> list[tuple[object, ...]]:
    """A record's timeline as rows of the timeline table."""
    return [(record.id, i, s.at, s.what, s.detail) for i, s in enumerate(record.timeline)]


def records_from(rows: Iterable[Sequence[object]]) -> list[CallbackRecord]:
    """Joined rows (record columns, then seq, at, what, detail) grouped into records."""
    width = len(COLUMNS)
    return [_record(group[0][:width], [r[width:] for r in group])
            for group in (list(g) for _, g in itertools.groupby(rows, key=lambda r: r[0]))]


def _record(row: Sequence[object], steps: list[Sequence[object]]) -> CallbackRecord:
    v = dict(zip(COLUMNS, row))
    return CallbackRecord(
        id=str(v["id"]), form=json.loads(str(v["form"])),
        person_number=str(v["person_number"]), service_code=str(v["service_code"]),
        state=str(v["state"]), outcome=_text(v["outcome"]), centre=_text(v["centre"]),
        terminal=_text(v["terminal"]),
        terminals_dialled=tuple(json.loads(str(v["terminals_dialled"]))),
        code=_text(v["code"]), room=_text(v["room"]), room_routing=_text(v["room_routing"]),
        room_refused=bool(v["room_refused"]), notices=tuple(json.loads(str(v["notices"]))),
        failovers=int(str(v["failovers"])), ended_by=_text(v["ended_by"]),
        times=json.loads(str(v["times"])), agent=_text(v["agent"]),
        attempts=tuple(Attempt(str(leg), float(at), outcome, ended)
                       for leg, at, outcome, ended in json.loads(str(v["attempts"] or "[]"))),
        next_attempt_at=None if v["next_attempt_at"] is None else float(str(v["next_attempt_at"])),
        duplicate_of=_text(v["duplicate_of"]),
        epoch=None if v["epoch"] is None else float(str(v["epoch"])),
        # A record without steps comes back from the LEFT JOIN as one row of NULLs.
        timeline=tuple(Step(float(str(at)), str(what), str(detail))
                       for seq, at, what, detail in steps if seq is not None))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
