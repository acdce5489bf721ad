"""A connection for the tables beside the callbacks (the directory): SQLite or PostgreSQL.

It opens the database `open_records` would, applies the same migrations the
record stores apply (`_schema.py`; whoever opens first migrates), and runs
work in transactions: `read` in one snapshot, `write` holding the database's
write lock (SQLite's IMMEDIATE, a PostgreSQL advisory lock), so a change
checked against the whole directory is written before anyone else's. `?`
marks a parameter in both dialects. Any database failure is a `RecordsError`
with a one-line message.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, TypeVar

from ._open import _sqlite_path
from ._postgres import _MIGRATION_LOCK, mask_password
from ._postgres import connect as connect_postgres
from ._schema import (CURRENT_VERSION, RECORD_VERSION, VERSION_TABLE, Dialect, RecordsError,
                      applied_at, next_migration)

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
Rows = list[tuple[Any, ...]]
_WRITE_LOCK = 0x6469726563746f72            # b"director": one writer of the directory at a time


class Sql(Protocol):
    """What work is handed inside a transaction: one statement at a time."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        """Run one statement; its rows (none for a statement that returns none)."""


class SqlConnection(Sql, Protocol):
    """A connection that runs work in transactions."""

    where: str

    def read(self, work: Callable[[Sql], T]) -> T:
        """Run `work` in one read transaction."""
    def write(self, work: Callable[[Sql], T]) -> T:
        """Run `work` in one transaction holding the write lock: all of it, or nothing."""
    def close(self) -> None:
        """Let go of the connection."""


def connect(url_or_path: str) -> SqlConnection:
    """`postgresql://…`: PostgreSQL; `sqlite:///path`, a plain path or ":memory:": SQLite
    (read as `open_records` reads them); migrated to the latest schema."""
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return PostgresConnection(url_or_path)
    return SqliteConnection(_sqlite_path(url_or_path))


def _migrate(sql: Sql, where: str) -> bool:
    """Apply the next migration; False when the schema is up to date."""
    sql.execute(VERSION_TABLE)
    migration = next_migration(int(sql.execute(CURRENT_VERSION)[0][0]), where)
    if migration is None:
        return False
    for statement in migration.statements(sql.dialect):
        sql.execute(statement)
    sql.execute(RECORD_VERSION, (migration.version, applied_at(), migration.what))
    return True


class SqliteConnection:
    """One SQLite connection, guarded by a lock (the loop and worker threads share it)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.where = path
        self._lock = threading.RLock()
        try:
            # isolation_level=None: no implicit transactions; BEGIN and COMMIT are ours.
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=10.0)
        except sqlite3.Error as exc:
            raise RecordsError(f"{path}: cannot open the directory: {exc}") from exc
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            while self.write(lambda sql: _migrate(sql, path)):
                pass
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")   # as the record stores do
        except sqlite3.Error as exc:
            self._db.close()
            raise RecordsError(f"{path}: cannot open the directory: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        """Run one statement; its rows."""
        return self._db.execute(sql, tuple(params)).fetchall()

    def read(self, work: Callable[[Sql], T]) -> T:
        """Run `work` in one deferred transaction: one snapshot of the file."""
        return self._transaction("BEGIN", work)

    def write(self, work: Callable[[Sql], T]) -> T:
        """Run `work` holding the file's write lock from the start (BEGIN IMMEDIATE)."""
        return self._transaction("BEGIN IMMEDIATE", work)

    def _transaction(self, begin: str, work: Callable[[Sql], T]) -> T:
        with self._lock:
            try:
                self._db.execute(begin)
                try:
                    result = work(self)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as exc:
                raise RecordsError(f"{self.where}: directory: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class PostgresConnection:
    """One PostgreSQL connection (psycopg 3), guarded by a lock; a connection the server
    dropped is replaced once and the work run again (it is one transaction: harmless)."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._url = url
        self.where = mask_password(url)
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._cursor: Any = None
        try:
            while self._transaction(lambda sql: _migrate(sql, self.where), _MIGRATION_LOCK):
                pass
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return connect_postgres(self._url, self.where)

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        """Run one statement in the transaction under way; its rows."""
        cursor = self._cursor
        cursor.execute(sql.replace("?", "%s"), tuple(params))
        return list(cursor.fetchall()) if cursor.description is not None else []

    def read(self, work: Callable[[Sql], T]) -> T:
        """Run `work` in one transaction."""
        return self._transaction(work, None)

    def write(self, work: Callable[[Sql], T]) -> T:
        """Run `work` in one transaction holding the directory's advisory lock."""
        return self._transaction(work, _WRITE_LOCK)

    def _transaction(self, work: Callable[[Sql], T], lock: int | None) -> T:
        import psycopg

        def once() -> T:
            with self._conn.transaction(), self._conn.cursor() as cursor:
                self._cursor = cursor
                try:
                    if lock is not None:
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                    return work(self)
                finally:
                    self._cursor = None

        with self._lock:
            try:
                if self._conn.closed:
                    self._conn = self._connect()
                try:
                    return once()
                except psycopg.OperationalError:
                    if not self._conn.broken:
                        raise
                    self._conn = self._connect()
                    return once()
            except psycopg.Error as exc:
                raise RecordsError(f"{self.where}: directory: {exc}") from exc

    def close(self) -> None:
        """Close the connection to the server."""
        with self._lock:
            self._conn.close()
