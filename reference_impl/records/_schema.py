"""The SQL schema of the records, as an ordered list of migrations.

A database holds a `schema_version` table with one row per migration applied.
A store applies the missing ones when it opens, each in its own transaction,
and refuses a database that a newer program has migrated past what it knows:
guessing at a schema it has never seen could lose records.

Never edit a migration that has shipped; append a new one. Version 1 is the
schema the program had before versions existed (its DDL says IF NOT EXISTS,
so on such a file it changes nothing and only records the version).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

Dialect = Literal["sqlite", "postgres"]


class RecordsError(Exception):
    """The records store cannot do what was asked."""


class SchemaTooNew(RecordsError):
    """The database was migrated by a newer program than this one."""


class RecordNotStored(RecordsError):
    """A put failed; the store still holds what it held before."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Migration:
    """One step of the schema: its version, what it does, its SQL in each dialect."""

    version: int
    what: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """The SQL of this migration for one dialect, in order."""
        return self.sqlite if dialect == "sqlite" else self.postgres


VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                 "applied_at TEXT NOT NULL, what TEXT NOT NULL)")
CURRENT_VERSION = "SELECT coalesce(max(version), 0) FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version, applied_at, what) VALUES (?, ?, ?)"


def _directory_tables(*, real: str, blob: str, flag: str) -> tuple[str, ...]:
    """Version 5's tables, in a dialect's types (one DDL, so the two cannot drift apart).
    Shipped with version 5: never edit it; a later change is a new migration."""
    return (
        f"""CREATE TABLE directory_centres (
    name TEXT PRIMARY KEY, ring_timeout {real} NOT NULL, queue_max_wait {real},
    position INTEGER NOT NULL)""",
        """CREATE TABLE directory_desk_phones (
    number TEXT PRIMARY KEY,
    centre TEXT NOT NULL REFERENCES directory_centres(name) ON DELETE CASCADE,
    position INTEGER NOT NULL)""",
        f"""CREATE TABLE room_templates (
    name TEXT PRIMARY KEY, title TEXT NOT NULL, greeting TEXT NOT NULL, accent TEXT,
    background TEXT, ink TEXT, logo {blob}, logo_type TEXT, documents TEXT,
    chat {flag} NOT NULL, updated_at {real} NOT NULL)""",
        f"""CREATE TABLE directory_services (
    code TEXT PRIMARY KEY, label TEXT NOT NULL, room_template TEXT NOT NULL,
    has_hours {flag} NOT NULL, holidays TEXT NOT NULL, holiday_country TEXT,
    slot_every {real}, slot_capacity INTEGER NOT NULL, position INTEGER NOT NULL)""",
        """CREATE TABLE directory_service_centres (
    service TEXT NOT NULL REFERENCES directory_services(code) ON DELETE CASCADE,
    position INTEGER NOT NULL, centre TEXT NOT NULL REFERENCES directory_centres(name),
    PRIMARY KEY (service, position))""",
        """CREATE TABLE directory_hours (
    service TEXT NOT NULL REFERENCES directory_services(code) ON DELETE CASCADE,
    position INTEGER NOT NULL, days TEXT NOT NULL, windows TEXT NOT NULL,
    PRIMARY KEY (service, position))""",
        "CREATE TABLE directory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1, what="callbacks, their timeline, an index by connection code",
        sqlite=(
            """CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, form TEXT NOT NULL, person_number TEXT NOT NULL,
    service_code TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, centre TEXT,
    terminal TEXT, terminals_dialled TEXT NOT NULL, code TEXT, room TEXT,
    room_routing TEXT, room_refused INTEGER NOT NULL, notices TEXT NOT NULL,
    failovers INTEGER NOT NULL, ended_by TEXT, times TEXT NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS timeline (
    callback_id TEXT NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, at REAL NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (callback_id, seq))""",
            "CREATE INDEX IF NOT EXISTS callbacks_code ON callbacks(code)"),
        # The same tables; PostgreSQL's REAL is 4 bytes, so times are DOUBLE PRECISION,
        # and `stored_order` stands in for SQLite's rowid (first-put order).
        postgres=(
            """CREATE TABLE IF NOT EXISTS callbacks (
    id TEXT PRIMARY KEY, form TEXT NOT NULL, person_number TEXT NOT NULL,
    service_code TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, centre TEXT,
    terminal TEXT, terminals_dialled TEXT NOT NULL, code TEXT, room TEXT,
    room_routing TEXT, room_refused BOOLEAN NOT NULL, notices TEXT NOT NULL,
    failovers INTEGER NOT NULL, ended_by TEXT, times TEXT NOT NULL,
    stored_order BIGINT GENERATED ALWAYS AS IDENTITY)""",
            """CREATE TABLE IF NOT EXISTS timeline (
    callback_id TEXT NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL, what TEXT NOT NULL,
    detail TEXT NOT NULL, PRIMARY KEY (callback_id, seq))""",
            "CREATE INDEX IF NOT EXISTS callbacks_code ON callbacks(code)")),
    Migration(
        # The operations page lists live callbacks (by state) and recent ones
        # (wall-clock times: the record's own `times` are flow time).
        version=2, what="index by state; wall-clock created_at and updated_at",
        sqlite=(
            "CREATE INDEX callbacks_state ON callbacks(state)",
            "ALTER TABLE callbacks ADD COLUMN created_at REAL",
            "ALTER TABLE callbacks ADD COLUMN updated_at REAL"),
        postgres=(
            "CREATE INDEX callbacks_state ON callbacks(state)",
            "ALTER TABLE callbacks ADD COLUMN created_at DOUBLE PRECISION",
            "ALTER TABLE callbacks ADD COLUMN updated_at DOUBLE PRECISION")),
    Migration(
        # Restarts: the agent who joined is kept, and each SIP leg's dialog (Call-ID,
        # tags, CSeq, target, route) so a restarted PBX can hang up what a dead one left.
        version=3, what="the agent who typed the code; the SIP dialog of each leg",
        sqlite=(
            "ALTER TABLE callbacks ADD COLUMN agent TEXT",
            """CREATE TABLE dialogs (
    callback_id TEXT NOT NULL, leg TEXT NOT NULL, state TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (callback_id, leg))"""),
        postgres=(
            "ALTER TABLE callbacks ADD COLUMN agent TEXT",
            """CREATE TABLE dialogs (
    callback_id TEXT NOT NULL, leg TEXT NOT NULL, state TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (callback_id, leg))""")),
    Migration(
        # The callback policy: every call to the person, when the next is due (a pending
        # callback survives a restart), and which callback a duplicate repeated.
        version=4, what="attempts, the next attempt's time, the callback a duplicate repeated, "
                        "the wall-clock time of flow time 0",
        sqlite=(
            "ALTER TABLE callbacks ADD COLUMN attempts TEXT",
            "ALTER TABLE callbacks ADD COLUMN next_attempt_at REAL",
            "ALTER TABLE callbacks ADD COLUMN duplicate_of TEXT",
            "ALTER TABLE callbacks ADD COLUMN epoch REAL"),
        postgres=(
            "ALTER TABLE callbacks ADD COLUMN attempts TEXT",
            "ALTER TABLE callbacks ADD COLUMN next_attempt_at DOUBLE PRECISION",
            "ALTER TABLE callbacks ADD COLUMN duplicate_of TEXT",
            "ALTER TABLE callbacks ADD COLUMN epoch DOUBLE PRECISION")),
    Migration(
        # The directory lives in the main server's database (records/_directory.py):
        # seeded from the scenario on first start, then managed there. `position` keeps
        # the order that matters (the form's services, a service's failover, hunting).
        version=5, what="the directory: services, centres, desk phones, opening hours, "
                        "room templates",
        sqlite=_directory_tables(real="REAL", blob="BLOB", flag="INTEGER"),
        postgres=_directory_tables(real="DOUBLE PRECISION", blob="BYTEA", flag="BOOLEAN")),
)
LATEST = len(MIGRATIONS)
assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1)), "versions go 1, 2, 3…"


def next_migration(current: int, where: str) -> Migration | None:
    """The migration that follows `current`; None when the schema is up to date."""
    if current > LATEST:
        raise SchemaTooNew(f"{where}: records schema version {current} was written by a newer "
                           f"callback-emulator (this one knows up to {LATEST}); upgrade it, "
                           "or open another database")
    return MIGRATIONS[current] if current < LATEST else None


def applied_at() -> str:
    """When a migration is applied, for the people reading schema_version."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
