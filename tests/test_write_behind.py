"""Records written behind the event loop: a locked database delays writes, never readers.

A real SQLite file, locked by another connection as another program would
(`BEGIN EXCLUSIVE`), while the store is put to and read from.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from reference_impl.records import CallbackRecord, SqliteRecords, WriteBehind, write_behind


def record(id: str, state: str = "connected", **more: object) -> CallbackRecord:
    return CallbackRecord(id=id, form={"service": "loans"}, person_number="+34600000001",
                          service_code="loans", state=state, **more)  # type: ignore[arg-type]


def hold_lock(path: Path, seconds: float) -> threading.Thread:
    """Another program takes the database's write lock and keeps it `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()
    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(5)
    return thread


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "records.db"
    SqliteRecords(str(file)).close()           # created, in WAL mode
    return file


def test_put_and_get_do_not_wait_while_another_program_holds_the_lock(path: Path) -> None:
    store = WriteBehind(SqliteRecords(str(path), timeout=0.2), SqliteRecords(str(path)),
                        retry=0.05)
    store.put(record("0", state="ended"))
    assert store.flush(5)
    holder = hold_lock(path, 2.0)
    started = time.monotonic()
    for n in range(1, 200):
        store.put(record(str(n)))
    assert store.get("150") == record("150")           # from memory
    assert store.get("0") == record("0", state="ended")  # from the database, past the lock
    assert time.monotonic() - started < 0.5
    durable = store.durable("199")
    assert not durable.done()
    holder.join()
    durable.result(timeout=10)
    assert store.failures >= 1                          # it waited, and tried again
    store.close()
    stored = SqliteRecords(str(path))
    assert len(stored) == 200 and stored.get("199") == record("199")
    stored.close()


def test_many_steps_of_one_callback_collapse_into_few_writes(path: Path) -> None:
    writes = []
    inner = SqliteRecords(str(path))
    real = inner.put_many

    def counted(records, dialogs):  # type: ignore[no-untyped-def]
        writes.append(len(records))
        real(records, dialogs)
    inner.put_many = counted  # type: ignore[method-assign]
    store = WriteBehind(inner)
    for step in range(500):
        store.put(record("7", times={"step": float(step)}))
    store.close()
    again = SqliteRecords(str(path))
    assert again.get("7").times == {"step": 499.0}  # type: ignore[union-attr]
    assert sum(writes) < 500 and writes[-1] == 1
    again.close()


def test_durable_is_at_once_for_what_is_written_and_dialogs_go_in_the_same_batches(
        path: Path) -> None:
    store = write_behind(str(path))
    store.put_many([record("1")], [("1", "person", '{"call_id": "x"}')])
    store.durable("1").result(timeout=5)
    assert store.durable("1").done()
    assert store.unfinished() == [record("1")]
    assert store.dialogs() == [("1", "person", '{"call_id": "x"}')]
    store.close()


def test_an_in_memory_database_shares_one_connection() -> None:
    store = write_behind(":memory:")
    store.put(record("1", state="ended"))
    store.durable("1").result(timeout=5)
    assert list(store) == [record("1", state="ended")] and len(store) == 1
    store.close()
