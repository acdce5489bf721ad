"""The SQL record stores against real servers: a SQLite file and a PostgreSQL cluster.

One behaviour suite runs over both. The PostgreSQL cluster is a throwaway one
(tests/pg_cluster.py: initdb into a temporary directory, the server a child of
the test process on a free loopback port, stopped at the end, killed with the
test process if that dies); each test gets its own fresh database in it.
"""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest

from reference_impl.flow import Attempt, Step
from reference_impl.records import (SCHEMA_VERSION, CallbackRecord, ClosableRecordStore,
                                    MemoryRecords, PostgresRecords, RecordNotStored,
                                    RecordsError, RecordStore, SchemaTooNew, SqliteRecords,
                                    open_records)

from .pg_cluster import Cluster, free_port, postgres_bin

# -- a throwaway PostgreSQL cluster ---------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running throwaway cluster's `postgres` database (tests/pg_cluster.py:
    its server dies with the test process)."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) not found: "
                    "run scripts/system-deps.sh (Debian package postgresql)")
    cluster = Cluster(bindir)
    try:
        cluster.start()
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        cluster.stop()
        pytest.fail(f"PostgreSQL did not start: {getattr(exc, 'stderr', None) or exc}")
    try:
        yield cluster.url
    finally:
        cluster.stop()


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database of the throwaway cluster."""
    name = f"records_{next(_databases)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + "/" + name


# -- the stores under test ------------------------------------------------------------

Opener = Callable[[], ClosableRecordStore]


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the records go: a SQLite file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        return str(tmp_path / "records.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def opener(url: str) -> Iterator[Opener]:
    """Opens stores on one database (each a connection of its own); closes them after."""
    opened: list[ClosableRecordStore] = []

    def open_one() -> ClosableRecordStore:
        opened.append(open_records(url))
        return opened[-1]
    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> RecordStore:
    return opener()


def full_record(id: str = "42", **changes: object) -> CallbackRecord:
    fields: dict[str, object] = dict(
        id=id,
        form={"service": "loans", "name": "Zoë Ñúñez 王秀英 🙂", "note": "«quoted» \"x\"\n\tز",
              "empty": "", "nul": "a\x00b"},
        person_number="+34600000001", service_code="loans", state="ended",
        outcome="connected", centre="north", terminal="n2", terminals_dialled=("s1", "n1", "n2"),
        code="0042", room="room-7", room_routing="rooms-b", room_refused=True,
        notices=("calling", "connecting", "connected", "room_ready", "ended"),
        failovers=2, ended_by="person", agent="Ana Pérez",
        attempts=(Attempt("person", 0.0, "person_busy", 0.5), Attempt("person-2", 120.5, None, None)),
        next_attempt_at=4000.25, duplicate_of="41", epoch=1.79e9 + 0.125,
        times={"requested": 0.0, "person_answered": 0.1 + 0.2, "bridged": 41.125,
               "ended": 1e9 + 1 / 3},
        timeline=(Step(0.0, "requested", "service loans, number +34600000001"),
                  Step(0.1 + 0.2, "person answered"),
                  Step(41.125, "bridged", "terminal n2 — código 0042"),
                  Step(1e9 + 1 / 3, "ended", "connected")))
    fields.update(changes)
    return CallbackRecord(**fields)  # type: ignore[arg-type]


def sparse_record(id: str = "43") -> CallbackRecord:
    return CallbackRecord(id=id, form={}, person_number="+1", service_code="s", state="new")


def test_the_full_record_sets_every_field_away_from_its_default() -> None:
    # So the round trip below covers every field, including one added later.
    record = full_record()
    for f in dataclasses.fields(CallbackRecord):
        if f.default is not dataclasses.MISSING:
            assert getattr(record, f.name) != f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(record, f.name) != f.default_factory(), f.name


# -- behaviour ------------------------------------------------------------------------


def test_every_field_round_trips(store: RecordStore) -> None:
    record, sparse = full_record(), sparse_record()
    store.put(record)
    store.put(sparse)
    assert store.get("42") == record
    assert store.get("43") == sparse
    assert store.get("44") is None
    assert len(store) == 2
    assert list(store) == [record, sparse]
    got = store.get("42")
    assert got is not None and list(got.form) == list(record.form)     # key order kept
    assert list(got.times) == list(record.times)


def test_a_batch_puts_records_and_dialogs_in_one_go_and_a_restart_finds_the_unfinished(
        opener: Opener) -> None:
    store = opener()
    live = full_record("7", state="connected", outcome=None)
    store.put_many([full_record("6"), live], [("7", "person", '{"call_id": "a"}'),
                                              ("7", "agent-1", '{"call_id": "b"}')])
    store.put_many([], [("7", "agent-1", None)])
    reopened = opener()
    assert [r.id for r in reopened.unfinished()] == ["7"]
    assert reopened.unfinished()[0] == live
    assert reopened.dialogs() == [("7", "person", '{"call_id": "a"}')]
    assert len(reopened) == 2


def test_records_survive_reopening(opener: Opener) -> None:
    first = opener()
    first.put(full_record())
    first.put(full_record("43", outcome="person_busy"))
    again = opener()                        # the schema is there already: nothing to do
    assert again.get("42") == full_record()
    assert [r.id for r in again] == ["42", "43"]


def test_a_put_replaces_the_whole_record_and_timeline(store: RecordStore) -> None:
    store.put(full_record())
    store.put(sparse_record("43"))
    shorter = full_record(state="connected", outcome=None, code=None,
                          timeline=(Step(0.0, "requested"),), times={"requested": 0.0})
    store.put(shorter)
    assert store.get("42") == shorter        # no step of the first timeline is left behind
    assert len(store) == 2


def test_iteration_is_in_first_put_order_like_memory_records(store: RecordStore) -> None:
    memory = MemoryRecords()
    for id in ("b", "a", "c", "a", "b"):
        for s in (store, memory):
            s.put(full_record(id, state=f"seen {id}"))
    assert [r.id for r in store] == [r.id for r in memory] == ["b", "a", "c"]


@dataclasses.dataclass(frozen=True)
class _NullStep:
    """A timeline step with no text, which the NOT NULL column refuses (a real `Step`
    refuses it too when compiled, so the store would never see it)."""

    at: float
    what: None = None
    detail: str = ""


def test_a_put_that_fails_midway_leaves_the_old_record(store: RecordStore) -> None:
    store.put(full_record())
    # The callbacks row and the old timeline's deletion go through; the third
    # step breaks NOT NULL: all of it must be undone.
    broken = full_record(state="connected", timeline=(Step(0.0, "a"), Step(1.0, "b"),
                                                      _NullStep(2.0)))  # type: ignore[arg-type]
    with pytest.raises(RecordNotStored, match="callback '42' not stored"):
        store.put(broken)
    assert store.get("42") == full_record()
    with pytest.raises(RecordNotStored):
        store.put(full_record("new", timeline=(_NullStep(0.0),)))  # type: ignore[arg-type]
    assert store.get("new") is None and len(store) == 1
    store.put(full_record(state="after"))   # the store is still usable
    assert store.get("42") == full_record(state="after")


def test_a_reader_on_another_connection_never_sees_half_a_record(opener: Opener) -> None:
    writer, reader = opener(), opener()
    short = full_record(state="short", timeline=(Step(0.0, "only"),))
    long = full_record(state="long", timeline=tuple(Step(float(i), f"step {i}")
                                                    for i in range(40)))
    writer.put(short)
    done, seen = threading.Event(), []

    def write() -> None:
        for i in range(150):
            writer.put(long if i % 2 == 0 else short)
        done.set()
    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        seen.append(reader.get("42"))
    thread.join()
    assert all(r in (short, long) for r in seen)
    assert {r.state for r in seen if r is not None} <= {"short", "long"}


def test_concurrent_writers_from_threads_share_one_store(store: RecordStore) -> None:
    def write(thread: int) -> None:
        for i in range(25):
            store.put(full_record(f"t{thread}-{i}", failovers=i))
            store.put(full_record("shared", state=f"thread {thread}"))
    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 6 * 25 + 1
    assert store.get("t5-24") == full_record("t5-24", failovers=24)
    assert store.get("shared") in [full_record("shared", state=f"thread {t}") for t in range(6)]


def test_concurrent_writers_on_their_own_connections(opener: Opener) -> None:
    stores = [opener() for _ in range(4)]
    versions = {n: full_record("shared", state=f"writer {n}",
                               timeline=tuple(Step(float(i), f"w{n}") for i in range(n + 1)))
                for n in range(4)}

    def write(n: int) -> None:
        for i in range(20):
            stores[n].put(versions[n])
            stores[n].put(full_record(f"w{n}-{i}"))
    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stores[0]) == 4 * 20 + 1
    assert stores[1].get("shared") in versions.values()


# -- the schema and its migrations ------------------------------------------------------

V1_DDL = """
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


def v1_file(path: Path, extra_ddl: str = "") -> None:
    """A file as the program wrote it before schema versions existed, with one callback."""
    db = sqlite3.connect(path)
    db.executescript(V1_DDL)
    db.execute("INSERT INTO callbacks VALUES ('old', '{\"name\": \"Zoë\"}', '+34600', 'loans', "
               "'ended', 'connected', 'north', 'n1', '[\"n1\"]', '0042', 'r1', 'rooms-a', 0, "
               "'[\"calling\", \"ended\"]', 0, 'agent', '{\"requested\": 1.5}')")
    db.execute("INSERT INTO timeline VALUES ('old', 0, 1.5, 'requested', 'by form')")
    db.commit()
    db.executescript(extra_ddl)
    db.close()


def sqlite_schema(path: Path) -> tuple[list[int], set[str], set[str]]:
    db = sqlite3.connect(path)
    try:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
    except sqlite3.OperationalError:
        versions = []
    columns = {c[1] for c in db.execute("PRAGMA table_info(callbacks)")}
    indexes = {i[1] for i in db.execute("PRAGMA index_list(callbacks)")}
    db.close()
    return versions, columns, indexes


OLD = CallbackRecord(id="old", form={"name": "Zoë"}, person_number="+34600", service_code="loans",
                     state="ended", outcome="connected", centre="north", terminal="n1",
                     terminals_dialled=("n1",), code="0042", room="r1", room_routing="rooms-a",
                     notices=("calling", "ended"), ended_by="agent", times={"requested": 1.5},
                     timeline=(Step(1.5, "requested", "by form"),))


def test_a_v1_file_is_migrated_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    v1_file(path)
    store = SqliteRecords(str(path))
    assert store.get("old") == OLD
    store.put(full_record())
    assert [r.id for r in store] == ["old", "42"]
    store.close()
    versions, columns, indexes = sqlite_schema(path)
    assert versions == list(range(1, SCHEMA_VERSION + 1)) and SCHEMA_VERSION >= 2
    assert {"created_at", "updated_at"} <= columns
    assert {"callbacks_code", "callbacks_state"} <= indexes


def test_a_migration_that_fails_is_undone_whole(tmp_path: Path) -> None:
    # A hand-altered v1 file: migration 2 adds its index and created_at, then
    # fails on updated_at. Nothing of migration 2 may stay, and the file stays v1.
    path = tmp_path / "altered.db"
    v1_file(path, "ALTER TABLE callbacks ADD COLUMN updated_at REAL;")
    with pytest.raises(RecordsError, match=f"{path}.*updated_at"):
        SqliteRecords(str(path))
    versions, columns, indexes = sqlite_schema(path)
    assert versions == [1]
    assert "created_at" not in columns and "callbacks_state" not in indexes
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id FROM callbacks").fetchall() == [("old",)]


def test_a_database_from_a_newer_program_is_refused_untouched(opener: Opener, url: str) -> None:
    opener().put(full_record())
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("INSERT INTO schema_version VALUES (99, 'later', 'from the future')")
    else:
        with sqlite3.connect(url) as db:
            db.execute("INSERT INTO schema_version VALUES (99, 'later', 'from the future')")
    with pytest.raises(SchemaTooNew, match=f"version 99 .* up to {SCHEMA_VERSION}"):
        opener()
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as db:
            assert db.execute("SELECT count(*) FROM callbacks").fetchone() == (1,)
    else:
        assert sqlite_schema(Path(url))[0][-1] == 99


def test_postgres_schema_is_versioned_and_reopening_changes_nothing(postgres_url: str) -> None:
    PostgresRecords(postgres_url).close()
    PostgresRecords(postgres_url).close()
    with psycopg.connect(postgres_url) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
        indexes = {i for (i,) in db.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'callbacks'")}
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert {"callbacks_code", "callbacks_state"} <= indexes


def test_postgres_openers_racing_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            PostgresRecords(postgres_url).close()
        except BaseException as exc:       # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=open_close) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT count(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)


def test_postgres_store_reconnects_after_the_server_drops_it(postgres_url: str) -> None:
    store = PostgresRecords(postgres_url)
    store.put(full_record())
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    store.put(full_record("43"))
    assert [r.id for r in store] == ["42", "43"]
    store.close()


# -- open_records ------------------------------------------------------------------------


def test_open_records_opens_postgres_for_a_postgresql_url(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://")):
        pg = open_records(url)
        assert isinstance(pg, PostgresRecords)
        pg.close()


def test_open_records_opens_sqlite_for_a_path_or_sqlite_url(tmp_path: Path) -> None:
    stores = [open_records(str(tmp_path / "a.db")), open_records(f"sqlite:///{tmp_path}/b.db"),
              open_records(":memory:"), open_records("sqlite://"),
              open_records("sqlite:///:memory:")]
    assert all(isinstance(s, SqliteRecords) for s in stores)
    for s in stores:
        s.put(full_record())
        s.close()
    assert (tmp_path / "a.db").exists() and (tmp_path / "b.db").exists()


@pytest.mark.parametrize("bad, named", [
    ("mysql://ada:s3cret@db.example/records", "mysql://ada:***@db.example/records"),
    ("http://example.com/x", "'http'"),
    ("sqlite:///", "sqlite:///"),
    ("sqlite:/relative.db", "sqlite:/relative.db"),  # one slash: a path with a colon, refused
    ("", "empty"),
])
def test_a_bad_records_url_is_a_value_error_naming_it(bad: str, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("*", r"\*").replace(".", r"\.")) as info:
        open_records(bad)
    assert "s3cret" not in str(info.value)


def test_an_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql://ada:s3cret@127.0.0.1:{free_port()}/records?connect_timeout=2"
    with pytest.raises(RecordsError, match=r"cannot connect to postgresql://ada:\*\*\*@") as info:
        open_records(url)
    assert "s3cret" not in str(info.value)


def test_a_file_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordsError, match="no/such/dir/r.db: cannot open"):
        open_records(str(tmp_path / "no" / "such" / "dir" / "r.db"))


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but someone's notes\n" * 100)
    with pytest.raises(RecordsError, match="notes.txt: cannot open as a records database"):
        open_records(str(path))
    assert path.read_text() == "not a database, but someone's notes\n" * 100


def test_a_test_process_killed_with_sigkill_leaves_no_postgres_server_behind() -> None:
    """A process that started a cluster dies with SIGKILL (no cleanup runs): its server
    (and the server's backends) go with it."""
    import signal
    import sys
    import time

    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries not found: run scripts/system-deps.sh")
    starter = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, '.');"
         "from tests.pg_cluster import Cluster, postgres_bin;"
         "c = Cluster(postgres_bin()); c.start(); print(c.server.pid, c.home, flush=True);"
         "time.sleep(60)"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
    assert starter.stdout is not None
    pid_text, home = starter.stdout.readline().split()
    server = int(pid_text)
    assert Path(f"/proc/{server}").exists(), "the server was not running"
    starter.send_signal(signal.SIGKILL)
    starter.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not Path(f"/proc/{server}").exists(), "the PostgreSQL server outlived its parent"
        left = subprocess.run(["pgrep", "-f", home], capture_output=True, text=True).stdout
        assert left.strip() == "", f"backends left behind: {left}"
    finally:
        subprocess.run(["rm", "-rf", home])
