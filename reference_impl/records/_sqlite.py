"""Records in a SQLite file (or ":memory:"): the default store of the real system."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from . import _codec as codec
from ._record import CallbackRecord
from ._schema import (CURRENT_VERSION, RECORD_VERSION, VERSION_TABLE, RecordNotStored,
                      RecordsError, applied_at, next_migration)


class SqliteRecords:
    """One connection, guarded by a lock: the asyncio thread and others may share it."""

    def __init__(self, path: str = ":memory:", timeout: float = 10.0) -> None:
        """`timeout`: how long a write waits for another writer's lock before it fails."""
        self._path = path
        self._lock = threading.Lock()
        try:
            # isolation_level=None: no implicit transactions; we say BEGIN and COMMIT.
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=timeout)
        except sqlite3.Error as exc:
            raise RecordsError(f"{path}: cannot open as a records database: {exc}") from exc
        try:
            self._open()
        except sqlite3.Error as exc:
            self._db.close()
            raise RecordsError(f"{path}: cannot open as a records database: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    @property
    def in_memory(self) -> bool:
        """Whether the records live in this connection only (":memory:")."""
        return self._path == ":memory:"

    def _open(self) -> None:
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()
        if self._path != ":memory:":
            # Readers (the operations page) then never wait for a writer.
            self._db.execute("PRAGMA journal_mode = WAL")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        # IMMEDIATE takes the write lock up front: two openers cannot both migrate.
        cursor = self._db.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        with self._lock:
            while True:
                with self._transaction() as cur:
                    cur.execute(VERSION_TABLE)
                    migration = next_migration(cur.execute(CURRENT_VERSION).fetchone()[0],
                                               self._path)
                    if migration is None:
                        return
                    for statement in migration.statements("sqlite"):
                        cur.execute(statement)
                    cur.execute(RECORD_VERSION, (migration.version, applied_at(), migration.what))

    def put(self, record: CallbackRecord) -> None:
        """Replace the record and its whole timeline in one transaction, or change nothing."""
        self.put_many([record], [])

    def put_many(self, records: list[CallbackRecord],
                 dialogs: list[tuple[str, str, str | None]]) -> None:
        """Replace several records and set or clear (None) dialogs, in one transaction."""
        now = time.time()
        try:
            with self._lock, self._transaction() as cur:
                for record in records:
                    cur.execute(codec.UPSERT, codec.row_of(record, now))
                    cur.execute(codec.DELETE_STEPS, (record.id,))
                    cur.executemany(codec.INSERT_STEP, codec.steps_of(record))
                for callback_id, leg, state in dialogs:
                    if state is None:
                        cur.execute(codec.DELETE_DIALOG, (callback_id, leg))
                    else:
                        cur.execute(codec.UPSERT_DIALOG, (callback_id, leg, state, now))
        except sqlite3.Error as exc:
            ids = ", ".join(repr(r.id) for r in records[:3]) or "dialogs"
            raise RecordNotStored(f"callback {ids} not stored in {self._path}: {exc}") from exc

    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended: what a restart must finish."""
        with self._lock:
            rows = self._db.execute(codec.select_unfinished("rowid")).fetchall()
        return codec.records_from(rows)

    def dialogs(self) -> list[tuple[str, str, str]]:
        """Every stored SIP dialog: (callback, leg, its state as JSON)."""
        with self._lock:
            return [(str(a), str(b), str(c))
                    for a, b, c in self._db.execute(codec.SELECT_DIALOGS).fetchall()]

    def get(self, callback_id: str) -> CallbackRecord | None:
        """The record of a callback, with its timeline; None if none is stored."""
        with self._lock:
            rows = self._db.execute(codec.select_one(), (callback_id,)).fetchall()
        records = codec.records_from(rows)
        return records[0] if records else None

    def __iter__(self) -> Iterator[CallbackRecord]:
        # rowid is kept by the upsert, so this is first-put order, as in MemoryRecords.
        with self._lock:
            rows = self._db.execute(codec.select_all("rowid")).fetchall()
        return iter(codec.records_from(rows))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute(codec.COUNT).fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

