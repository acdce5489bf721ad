"""The directory in the records database (schema version 5), on a SQLite file and on a
throwaway PostgreSQL cluster (the one tests/test_records_sql.py starts).

The same suite runs on both: seeded once and read back whole (every order
that matters, hours, holidays, slots, a logo's bytes, a template's documents
and chat); each change checked against the whole directory inside the
transaction that writes it, so a refused change writes nothing and two
writers cannot both take one desk phone; templates read again for new rooms
once their cached copy is old; the schema migrated from version 4.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest

from reference_impl.directory import (Centre, Colours, DeskPhoneTaken, Directory, InvalidEntry,
                                      Logo, NoCentreForService, RoomTemplate, Service,
                                      UnknownTemplate)
from reference_impl.records import (SCHEMA_VERSION, DirectoryStore, RecordsError, SqliteRecords,
                                    open_directory, open_records)
from reference_impl.records._schema import MIGRATIONS
from reference_impl.records._sql import connect

from .test_records_sql import postgres_server, postgres_url  # noqa: F401 (fixtures)

PNG = (Path(__file__).resolve().parents[1] / "scenarios" / "serve" / "logos" /
       "mortgages.png").read_bytes()


def sample() -> Directory:
    """Two services over three centres, with hours, holidays, slots and two templates."""
    centres = {
        "madrid": Centre(name="madrid", terminals=("+34910000002", "+34910000001"),
                         ring_timeout=20.0),
        "barcelona": Centre(name="barcelona", terminals=("sip:desk@127.0.0.1:5099",),
                            ring_timeout=15.5, queue_max_wait=60.0),
        "bilbao": Centre(name="bilbao", terminals=("+34940000001",), ring_timeout=10.0)}
    services = {
        "mortgages": Service(code="mortgages", centres=("madrid", "barcelona"),
                             room_template="advisor", label="Mortgages",
                             hours=(("mon-fri", "08:00-20:00"), ("sat", "09:00-14:00,16:00-19:00")),
                             holidays=(date(2026, 12, 8), date(2026, 12, 25))),
        "insurance": Service(code="insurance", centres=("barcelona", "bilbao", "madrid"),
                             room_template="claims", holiday_country="ES", slot_every=900.0,
                             slot_capacity=10)}
    templates = {
        "advisor": RoomTemplate(name="advisor", title="Your mortgage advisor",
                                greeting="Welcome!\nWe will go through the rates.",
                                colours=Colours(accent="#1e40af", background="#eef2ff"),
                                logo=Logo(content_type="image/png", data=PNG),
                                documents=("rates.png", "terms.pdf")),
        "claims": RoomTemplate(name="claims", title="Claims", documents=(), chat=False)}
    return Directory(services=services, centres=centres, templates=templates)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the directory goes: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "records.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def opener(url: str) -> Iterator[Callable[..., DirectoryStore]]:
    """Opens stores on one database, each on a connection of its own; closes them after."""
    opened: list[DirectoryStore] = []

    def open_one(**options: float) -> DirectoryStore:
        store = DirectoryStore(connect(url), **options)    # type: ignore[arg-type]
        opened.append(store)
        return store
    yield open_one
    for store in opened:
        store.close()


def test_an_empty_database_has_no_directory_and_is_at_the_latest_schema(url: str) -> None:
    store = open_directory(url)
    try:
        assert store.seeded() is None
        assert store.load() == Directory(services={}, centres={})
        assert store.template("advisor") is None
    finally:
        store.close()
    assert SCHEMA_VERSION == 5 and MIGRATIONS[4].what.startswith("the directory")
    records = open_records(url)          # the records store opens the same schema, untouched
    try:
        assert len(records) == 0
    finally:
        records.close()


def test_seeded_once_and_read_back_whole(opener: Callable[..., DirectoryStore]) -> None:
    store = opener()
    assert store.seed(sample(), "scenarios/serve/default.yaml") is True
    other = sample()
    assert store.seed(Directory(services={}, centres={"x": Centre(
        name="x", terminals=("1",), ring_timeout=1.0)}), "another.yaml") is False
    loaded = opener().load()                      # another connection reads what was written
    assert loaded == other
    assert list(loaded.services) == ["mortgages", "insurance"]        # the form's order
    assert loaded.services["insurance"].centres == ("barcelona", "bilbao", "madrid")
    assert loaded.centres["madrid"].terminals == ("+34910000002", "+34910000001")
    assert loaded.templates["advisor"].logo == Logo(content_type="image/png", data=PNG)
    assert loaded.templates["claims"].documents == () and loaded.templates["advisor"].chat
    assert loaded.services["mortgages"].opening().open_on(date(2026, 12, 25)) == ()
    assert opener().seeded() == "scenarios/serve/default.yaml"


def test_a_change_is_checked_against_the_whole_directory_and_a_refusal_writes_nothing(
        opener: Callable[..., DirectoryStore]) -> None:
    store = opener()
    store.seed(sample(), "test")
    before = store.load()
    refused = [
        (NoCentreForService, lambda: store.put_service(
            Service(code="cards", centres=("sevilla",)))),
        (UnknownTemplate, lambda: store.put_service(
            Service(code="mortgages", centres=("madrid",), room_template="nope"))),
        (DeskPhoneTaken, lambda: store.put_centre(
            Centre(name="sevilla", terminals=("+34910000001",), ring_timeout=15.0))),
        (InvalidEntry, lambda: store.put_service(
            Service(code="cards", centres=("madrid",), hours=(("mon", "8-20"),)))),
        (InvalidEntry, lambda: store.put_service(
            Service(code="cards", centres=("madrid",), holiday_country="XX"))),
    ]
    for kind, change in refused:
        with pytest.raises(kind):
            change()
    assert opener().load() == before


def test_entries_are_added_and_replaced_in_place(opener: Callable[..., DirectoryStore]) -> None:
    store = opener()
    store.seed(sample(), "test")
    assert store.put_centre(Centre(name="sevilla", terminals=("+34950000001",),
                                   ring_timeout=25.0)) is True
    assert store.put_service(Service(code="cards", centres=("sevilla", "madrid"),
                                     label="Credit cards")) is True
    moved = Service(code="mortgages", centres=("bilbao",), room_template="claims")
    assert store.put_service(moved) is False
    # A desk phone may move to another centre once its old centre lets it go.
    store.put_centre(Centre(name="madrid", terminals=("+34910000002",), ring_timeout=20.0))
    store.put_centre(Centre(name="bilbao", terminals=("+34940000001", "+34910000001"),
                            ring_timeout=10.0))
    loaded = opener().load()
    assert list(loaded.services) == ["mortgages", "insurance", "cards"]   # replaced in place
    assert list(loaded.centres) == ["madrid", "barcelona", "bilbao", "sevilla"]
    assert loaded.services["mortgages"] == moved
    assert loaded.centres["bilbao"].terminals == ("+34940000001", "+34910000001")
    assert loaded.terminal_owner()["+34910000001"] == "bilbao"


def test_import_merges_or_replaces(opener: Callable[..., DirectoryStore]) -> None:
    store = opener()
    store.seed(sample(), "test")
    small = Directory(services={"cards": Service(code="cards", centres=("sevilla",))},
                      centres={"sevilla": Centre(name="sevilla", terminals=("+34950000001",),
                                                 ring_timeout=15.0)})
    store.merge(small)
    assert set(opener().load().services) == {"mortgages", "insurance", "cards"}
    with pytest.raises(DeskPhoneTaken):           # merged, the result must hold together
        store.merge(Directory(services={}, centres={"x": Centre(
            name="x", terminals=("+34950000001",), ring_timeout=1.0)}))
    store.replace_all(small, "small.yaml")
    assert opener().load() == small and opener().seeded() == "small.yaml"


def test_new_rooms_see_a_template_another_process_changed_once_the_copy_is_old(
        opener: Callable[..., DirectoryStore]) -> None:
    now = [0.0]
    serving = opener(cache_seconds=5.0, clock=lambda: now[0])
    editing = opener()
    serving.seed(sample(), "test")
    assert serving.template("advisor").title == "Your mortgage advisor"  # type: ignore[union-attr]
    editing.put_template(RoomTemplate(name="advisor", title="Mortgage advice", chat=False))
    now[0] = 4.9
    assert serving.template("advisor").title == "Your mortgage advisor"  # type: ignore[union-attr]
    now[0] = 5.0
    fresh = serving.template("advisor")
    assert fresh == RoomTemplate(name="advisor", title="Mortgage advice", chat=False)
    serving.put_template(RoomTemplate(name="advisor", title="Changed here"))
    assert serving.template("advisor").title == "Changed here"  # type: ignore[union-attr]


def test_two_writers_cannot_both_take_one_desk_phone(opener: Callable[..., DirectoryStore]) -> None:
    opener().seed(sample(), "test")
    stores = [opener(), opener()]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def take(n: int) -> None:
        start.wait()
        try:
            stores[n].put_centre(Centre(name=f"new{n}", terminals=("+34990000001",),
                                        ring_timeout=15.0))
            outcomes.append("added")
        except DeskPhoneTaken:
            outcomes.append("refused")
    threads = [threading.Thread(target=take, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added", "refused"]
    owners = opener().load().terminal_owner()
    assert owners["+34990000001"] in ("new0", "new1")


def test_a_records_file_of_version_4_gains_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    with sqlite3.connect(path) as db:                 # what the program wrote at version 4
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                   "applied_at TEXT NOT NULL, what TEXT NOT NULL)")
        for migration in MIGRATIONS[:4]:
            for statement in migration.sqlite:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?, 'then', ?)",
                       (migration.version, migration.what))
    SqliteRecords(str(path)).close()                  # the records store migrates it...
    with sqlite3.connect(path) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY 1")]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")}
    assert versions == [1, 2, 3, 4, 5]
    assert {"directory_services", "directory_centres", "directory_desk_phones",
            "directory_hours", "directory_service_centres", "room_templates"} <= tables
    store = open_directory(str(path))                 # ...and the directory opens on it
    try:
        assert store.seed(sample(), "test") and store.load() == sample()
    finally:
        store.close()


def test_a_database_that_cannot_be_reached_is_a_records_error(tmp_path: Path) -> None:
    with pytest.raises(RecordsError, match="cannot connect"):
        open_directory("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(RecordsError, match="cannot open the directory"):
        open_directory(str(tmp_path / "no such folder" / "x.sqlite3"))
    with pytest.raises(ValueError, match="unknown scheme"):
        open_directory("mysql://x/y")


def test_postgres_keeps_the_logo_bytes_and_the_flags_as_their_types(postgres_url: str) -> None:
    store = open_directory(postgres_url)
    try:
        store.seed(sample(), "test")
    finally:
        store.close()
    with psycopg.connect(postgres_url) as db:
        logo, chat = db.execute("SELECT logo, chat FROM room_templates WHERE name = 'advisor'"
                                ).fetchone()  # type: ignore[misc]
        kinds = dict(db.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'room_templates'").fetchall())
    assert bytes(logo) == PNG and chat is True
    assert kinds["logo"] == "bytea" and kinds["chat"] == "boolean"
