"""The accounts' own connection to the records database: SQLite or PostgreSQL.

Each statement runs alone (autocommit) unless several are given to
`transaction`; `?` marks a parameter in both dialects. A unique key broken
raises `Duplicate`; any other database failure `AccountsError`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, TypeVar

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
Statement = tuple[str, Sequence[object]]
_CONNECT_TIMEOUT = 10                        # seconds; libpq would otherwise wait forever
_SCHEMA_LOCK = 0x6167656e7473               # b"agents": one creator of the tables at a time
# "name:" at the start reads as a URL scheme; one letter is a Windows drive.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


class AccountsError(Exception):
    """The accounts' database cannot be opened or used: a one-line message."""


class Duplicate(AccountsError):
    """A row with that key is already there."""


@dataclass(frozen=True, slots=True)
class Result:
    """What one statement gave: its rows and how many rows it changed."""

    rows: list[tuple[Any, ...]]
    count: int


class Database(Protocol):
    """A connection the accounts store talks to."""

    def run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, alone."""
    def transaction(self, statements: Sequence[Statement]) -> list[Result]:
        """Several statements, all or none."""
    def close(self) -> None:
        """Let go of the connection."""


def connect(url_or_path: str) -> Database:
    """`postgresql://…`: PostgreSQL; `sqlite:///path`, a path or ":memory:": SQLite
    (read as `serve --db` and `open_records` read them)."""
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url_or_path)
    return SqliteDatabase(sqlite_path(url_or_path))


def sqlite_path(url_or_path: str) -> str:
    """The file of a SQLite URL or path; `AccountsError` for another scheme or nothing."""
    if url_or_path.startswith("sqlite://"):
        path = url_or_path[len("sqlite://"):]
        if path == "":
            return ":memory:"
        if not path.startswith("/") or path == "/":
            raise AccountsError(f"database URL {url_or_path!r}: expected sqlite:///<path>")
        return path[1:]
    if _SCHEME.match(url_or_path):
        raise AccountsError(f"database URL {mask_password(url_or_path)!r}: unknown scheme "
                            f"{url_or_path.partition(':')[0]!r}; use postgresql://…, "
                            "sqlite:///<path> or a file path")
    if not url_or_path.strip():
        raise AccountsError("database: an empty path")
    return url_or_path


def mask_password(url: str) -> str:
    """The URL fit for a message: the password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


class SqliteDatabase:
    """One SQLite connection, guarded by a lock (the loop and a worker thread share it)."""

    def __init__(self, path: str) -> None:
        self.where = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=10.0)
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise AccountsError(f"{path}: cannot open the accounts: {exc}") from exc

    def run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, alone."""
        return self._guarded(lambda: self._execute(sql, params))

    def transaction(self, statements: Sequence[Statement]) -> list[Result]:
        """Several statements in one IMMEDIATE transaction, all or none."""
        def work() -> list[Result]:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._execute(sql, params) for sql, params in statements]
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            return results
        return self._guarded(work)

    def _execute(self, sql: str, params: Sequence[object]) -> Result:
        cursor = self._db.execute(sql, tuple(params))
        return Result(cursor.fetchall(), cursor.rowcount)

    def _guarded(self, work: Callable[[], T]) -> T:
        with self._lock:
            try:
                return work()
            except sqlite3.IntegrityError as exc:
                raise Duplicate(str(exc)) from exc
            except sqlite3.Error as exc:
                raise AccountsError(f"{self.where}: accounts: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class PostgresDatabase:
    """One PostgreSQL connection (psycopg 3), guarded by a lock; a connection the server
    dropped is replaced once and the statement retried."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.where = mask_password(url)
        self._lock = threading.Lock()
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            import psycopg
        except ImportError as exc:                    # pragma: no cover - a dependency
            raise AccountsError("PostgreSQL needs psycopg: pip install 'psycopg[binary]>=3.1'") \
                from exc
        try:
            conninfo = self._url
            if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(conninfo):
                conninfo = psycopg.conninfo.make_conninfo(conninfo,
                                                          connect_timeout=_CONNECT_TIMEOUT)
            return psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise AccountsError(f"cannot connect to {self.where}: {exc}") from exc

    def run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, alone."""
        return self.transaction([(sql, params)], alone=True)[0]

    def transaction(self, statements: Sequence[Statement], alone: bool = False) -> list[Result]:
        """Several statements in one transaction, all or none."""
        import psycopg

        def work(conn: psycopg.Connection[tuple[Any, ...]]) -> list[Result]:
            results = []
            if alone:
                for sql, params in statements:
                    results.append(_pg_result(conn.execute(_pg(sql), tuple(params))))
                return results
            with conn.transaction():
                for sql, params in statements:
                    results.append(_pg_result(conn.execute(_pg(sql), tuple(params))))
            return results

        with self._lock:
            try:
                if self._conn.closed:
                    self._conn = self._connect()
                try:
                    return work(self._conn)
                except psycopg.OperationalError:
                    if not self._conn.broken:
                        raise
                    self._conn = self._connect()
                    return work(self._conn)
            except psycopg.errors.IntegrityError as exc:
                raise Duplicate(str(exc)) from exc
            except psycopg.Error as exc:
                raise AccountsError(f"{self.where}: accounts: {exc}") from exc

    def lock_schema(self) -> Statement:
        """The statement that makes one opener at a time create the tables."""
        return "SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,)

    def close(self) -> None:
        """Close the connection to the server."""
        with self._lock:
            self._conn.close()


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


def _pg_result(cursor: psycopg.Cursor[tuple[Any, ...]]) -> Result:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result(list(rows), cursor.rowcount)
