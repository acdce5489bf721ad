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

    def __init__(self, path: str = ":memory:") -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            # isolation_level=None: no implicit transactions; we say BEGIN and COMMIT.
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                       timeout=10.0)
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
        row, steps = codec.row_of(record, time.time()), codec.steps_of(record)
        try:
            with self._lock, self._transaction() as cur:
                cur.execute(codec.UPSERT, row)
                cur.execute(codec.DELETE_STEPS, (record.id,))
                cur.executemany(codec.INSERT_STEP, steps)
        except sqlite3.Error as exc:
            raise RecordNotStored(f"callback {record.id!r} not stored in {self._path}: "
                                  f"{exc}") from exc

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

