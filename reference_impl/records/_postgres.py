"""Records in PostgreSQL (psycopg 3), for a system that outgrows one SQLite file.

Same tables, same semantics as the SQLite store. One connection, guarded by a
lock; a connection the server dropped (restart, idle kill) is replaced once
and the operation retried: every operation here is a read or a whole-record
replacement, so running it twice is harmless.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

from . import _codec as codec
from ._record import CallbackRecord
from ._schema import (CURRENT_VERSION, RECORD_VERSION, VERSION_TABLE, RecordNotStored,
                      RecordsError, applied_at, next_migration)

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
_MIGRATION_LOCK = 0x7265636f726473          # any constant: b"records"; one migrator at a time
_CONNECT_TIMEOUT = 10                        # seconds; libpq would otherwise wait forever


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresRecords:
    """Records in PostgreSQL: the same store as SqliteRecords, for a `postgresql://` URL."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._where = mask_password(url)
        self._lock = threading.Lock()
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return connect(self._url, self._where)

    def _run(self, work: Callable[[psycopg.Connection[tuple[object, ...]]], T]) -> T:
        import psycopg
        with self._lock:
            if self._conn.closed:
                self._conn = self._connect()
            try:
                return work(self._conn)
            except psycopg.OperationalError:
                if not self._conn.broken:
                    raise
                self._conn = self._connect()
                return work(self._conn)

    def _migrate(self) -> None:
        while self._run(self._migrate_once):
            pass

    def _migrate_once(self, conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        """Apply the next migration in one transaction; False when there is none left."""
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(VERSION_TABLE)
            current = cur.execute(CURRENT_VERSION).fetchone()
            migration = next_migration(int(str(current[0])) if current else 0, self._where)
            if migration is None:
                return False
            for statement in migration.statements("postgres"):
                cur.execute(statement)
            cur.execute(_pg(RECORD_VERSION), (migration.version, applied_at(), migration.what))
            return True

    def put(self, record: CallbackRecord) -> None:
        """Replace the record and its whole timeline in one transaction, or change nothing."""
        self.put_many([record], [])

    def put_many(self, records: list[CallbackRecord],
                 dialogs: list[tuple[str, str, str | None]]) -> None:
        """Replace several records and set or clear (None) dialogs, in one transaction."""
        import psycopg
        now = time.time()

        def write(conn: psycopg.Connection[tuple[object, ...]]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                for record in records:
                    cur.execute(_pg(codec.UPSERT), codec.row_of(record, now))
                    cur.execute(_pg(codec.DELETE_STEPS), (record.id,))
                    cur.executemany(_pg(codec.INSERT_STEP), codec.steps_of(record))
                for callback_id, leg, state in dialogs:
                    if state is None:
                        cur.execute(_pg(codec.DELETE_DIALOG), (callback_id, leg))
                    else:
                        cur.execute(_pg(codec.UPSERT_DIALOG), (callback_id, leg, state, now))
        try:
            self._run(write)
        except psycopg.Error as exc:
            ids = ", ".join(repr(r.id) for r in records[:3]) or "dialogs"
            raise RecordNotStored(f"callback {ids} not stored in {self._where}: {exc}") from exc

    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended: what a restart must finish."""
        rows = self._run(lambda conn: conn.execute(
            codec.select_unfinished("stored_order")).fetchall())
        return codec.records_from(rows)

    def dialogs(self) -> list[tuple[str, str, str]]:
        """Every stored SIP dialog: (callback, leg, its state as JSON)."""
        rows = self._run(lambda conn: conn.execute(codec.SELECT_DIALOGS).fetchall())
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def get(self, callback_id: str) -> CallbackRecord | None:
        """The record of a callback, with its timeline; None if none is stored."""
        rows = self._run(lambda conn: conn.execute(_pg(codec.select_one()),
                                                   (callback_id,)).fetchall())
        records = codec.records_from(rows)
        return records[0] if records else None

    def __iter__(self) -> Iterator[CallbackRecord]:
        rows = self._run(lambda conn: conn.execute(codec.select_all("stored_order")).fetchall())
        return iter(codec.records_from(rows))

    def __len__(self) -> int:
        row = self._run(lambda conn: conn.execute(codec.COUNT).fetchone())
        return int(str(row[0])) if row else 0

    def close(self) -> None:
        """Close the connection to the server."""
        with self._lock:
            self._conn.close()


def connect(url: str, where: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection to `url` (shown as `where`) in autocommit, with a connect timeout:
    reads run alone; writes say `transaction()` explicitly."""
    try:
        import psycopg
    except ImportError as exc:
        raise RecordsError("PostgreSQL records need psycopg: "
                           "pip install 'psycopg[binary]>=3.1'") from exc
    try:
        conninfo = url
        if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(conninfo):
            conninfo = psycopg.conninfo.make_conninfo(conninfo, connect_timeout=_CONNECT_TIMEOUT)
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise RecordsError(f"cannot connect to {where}: {exc}") from exc


def mask_password(url: str) -> str:
    """The URL fit for an error message or a log: the password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
