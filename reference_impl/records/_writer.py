"""Records written behind the event loop: a slow or locked database delays writes, never pages.

`WriteBehind.put` keeps the record in memory and hands it to a writer thread,
which writes whatever has piled up in one transaction (only the latest of each
record: a callback's steps collapse). Reads come from memory while a record is
pending or recent, else from the database on a connection of their own (SQLite
in WAL mode and PostgreSQL let readers past a writer). `durable(id)` is a
future that resolves once the record as it is now has been committed: the web
acknowledges a request only then, so an acknowledged request survives a crash.
A write that fails (the database locked past its timeout, or gone) is tried
again; nothing put is dropped while the store is open.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Iterator

from ._record import CallbackRecord, ClosableRecordStore
from ._schema import RecordsError

log = logging.getLogger("callback.records")

Dialog = tuple[str, str, "str | None"]        # callback, leg, its state as JSON (None: over)


class WriteBehind:
    """A records store whose `put` never waits on the database (see the module)."""

    def __init__(self, write: ClosableRecordStore, read: ClosableRecordStore | None = None, *,
                 backlog: int = 20_000, recent: int = 2_000, retry: float = 0.5) -> None:
        """`write` is used by the writer thread only; `read` (default: `write`) by readers.
        `backlog`: records waiting beyond which `backlogged` says so (the web then refuses
        new requests); `recent`: written records kept in memory for pages (older ones
        are read from the database; 2,000 are 40 s of callbacks at 50/s, a few MB)."""
        self._write, self._read = write, read or write
        self._backlog, self._recent_limit, self._retry = backlog, recent, retry
        self._lock = threading.Condition()
        self._pending: dict[str, CallbackRecord] = {}       # put, not yet written
        self._versions: dict[str, int] = {}                 # id -> the version put last
        self._written: dict[str, int] = {}                  # id -> the version written last
        self._waiters: dict[str, list[tuple[int, Future[None]]]] = {}
        self._dialogs: list[Dialog] = []
        self._recent: OrderedDict[str, CallbackRecord] = OrderedDict()
        self._closing = False
        self.failures = 0                                   # writes that had to be retried
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()

    # -- the RecordStore protocol -------------------------------------------

    def put(self, record: CallbackRecord) -> None:
        """Keep the record and have it written soon; returns at once."""
        with self._lock:
            self._pending[record.id] = record
            self._versions[record.id] = self._versions.get(record.id, 0) + 1
            self._lock.notify()

    def get(self, callback_id: str) -> CallbackRecord | None:
        """The latest record of a callback: from memory if pending or recent, else stored."""
        with self._lock:
            found = self._pending.get(callback_id) or self._recent.get(callback_id)
        return found if found is not None else self._read.get(callback_id)

    def __iter__(self) -> Iterator[CallbackRecord]:
        with self._lock:
            newer = dict(self._recent) | dict(self._pending)
        stored = [newer.pop(r.id, r) for r in self._read]
        return iter(stored + list(newer.values()))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # -- what the system adds ------------------------------------------------

    def put_many(self, records: list[CallbackRecord], dialogs: list[Dialog]) -> None:
        """Put several records and set or clear dialogs; returns at once."""
        for record in records:
            self.put(record)
        with self._lock:
            self._dialogs.extend(dialogs)
            self._lock.notify()

    def durable(self, callback_id: str) -> Future[None]:
        """Resolves once the record of `callback_id`, as last put, is committed."""
        future: Future[None] = Future()
        with self._lock:
            wanted = self._versions.get(callback_id, 0)
            if self._written.get(callback_id, 0) >= wanted:
                future.set_result(None)
            else:
                self._waiters.setdefault(callback_id, []).append((wanted, future))
        return future

    def unfinished(self) -> list[CallbackRecord]:
        """The records not yet ended (read at start, before anything is put)."""
        return self._read.unfinished()

    def dialogs(self) -> list[tuple[str, str, str]]:
        """Every stored SIP dialog (read at start)."""
        return self._read.dialogs()

    @property
    def backlogged(self) -> bool:
        """Whether more records wait than the backlog allows: refuse new work."""
        return len(self._pending) > self._backlog

    @property
    def depth(self) -> int:
        """Records and dialogs waiting to be written."""
        with self._lock:
            return len(self._pending) + len(self._dialogs)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything put so far is written; False if `timeout` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending and not self._dialogs, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is pending (within `timeout`), stop the writer, close the databases."""
        self.flush(timeout)
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout)
        self._write.close()
        if self._read is not self._write:
            self._read.close()

    # -- the writer thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending or self._dialogs or self._closing)
                if self._closing and not self._pending and not self._dialogs:
                    return
                batch, dialogs = dict(self._pending), list(self._dialogs)
                versions = {cid: self._versions[cid] for cid in batch}
                self._dialogs.clear()
            if self._store(list(batch.values()), dialogs):
                self._done(batch, versions)
            else:
                with self._lock:
                    self._dialogs[:0] = dialogs              # again, before newer ones
                    if self._closing:
                        return
                    self._lock.wait(self._retry)

    def _store(self, records: list[CallbackRecord], dialogs: list[Dialog]) -> bool:
        try:
            self._write.put_many(records, dialogs)
            return True
        except RecordsError as error:
            self.failures += 1
            log.warning("records not written yet, trying again: %s", error)
            return False

    def _done(self, batch: dict[str, CallbackRecord], versions: dict[str, int]) -> None:
        resolved: list[Future[None]] = []
        with self._lock:
            for callback_id, record in batch.items():
                self._written[callback_id] = versions[callback_id]
                if self._versions[callback_id] == versions[callback_id]:
                    del self._pending[callback_id]           # nothing newer came meanwhile
                self._remember(record)
                waiting = self._waiters.pop(callback_id, [])
                keep = [(v, f) for v, f in waiting if v > versions[callback_id]]
                resolved += [f for v, f in waiting if v <= versions[callback_id]]
                if keep:
                    self._waiters[callback_id] = keep
            self._lock.notify_all()
        for future in resolved:
            future.set_result(None)

    def _remember(self, record: CallbackRecord) -> None:
        self._recent[record.id] = record
        self._recent.move_to_end(record.id)
        while len(self._recent) > self._recent_limit:
            old, _ = self._recent.popitem(last=False)
            if old not in self._pending:
                self._versions.pop(old, None)
                self._written.pop(old, None)
