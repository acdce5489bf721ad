"""The shared stores of the switchboard: connection codes, terminals, directory, records."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from reference_impl.codes import CodeError, CodeNotInUse, CodePool, CodePoolExhausted
from reference_impl.directory import (Centre, Directory, DirectoryError, NoCentreForService,
                                      Service, UnknownService)
from reference_impl.flow import CentreRoute, Step
from reference_impl.records import CallbackRecord, MemoryRecords, RecordStore, SqliteRecords
from reference_impl.terminals import TerminalPool

# -- connection codes ----------------------------------------------------------


def test_codes_are_unique_among_live_calls_and_padded_to_their_digits() -> None:
    pool = CodePool(digits=4, first=7, count=5)
    codes = [pool.allocate(f"cb{i}") for i in range(5)]
    assert codes == ["0007", "0008", "0009", "0010", "0011"]
    assert [pool.owner(code) for code in codes] == [f"cb{i}" for i in range(5)]
    assert (pool.in_use, pool.free) == (5, 0)


def test_default_pool_spans_every_code_of_its_digits_without_a_leading_zero() -> None:
    pool = CodePool(digits=2)
    codes = [pool.allocate("cb") for _ in range(pool.free)]
    assert codes == [str(n) for n in range(10, 100)]


def test_exhausted_pool_raises_and_a_release_makes_room() -> None:
    pool = CodePool(digits=1, first=1, count=2)
    first, _ = pool.allocate("a"), pool.allocate("b")
    with pytest.raises(CodePoolExhausted):
        pool.allocate("c")
    pool.release(first)
    assert pool.allocate("c") == first
    assert pool.owner(first) == "c"


def test_free_codes_go_out_least_recently_released_first() -> None:
    pool = CodePool(digits=1, first=1, count=5)
    held = {pool.allocate(f"cb{n}") for n in range(4)}   # 1..4 held, 5 never used
    assert held == {"1", "2", "3", "4"}
    for code in ("3", "1", "4"):
        pool.release(code)
    # The never-used code was freed "longest ago"; then in order of release.
    assert [pool.allocate("x") for _ in range(4)] == ["5", "3", "1", "4"]


def test_releasing_a_code_no_call_holds_is_an_error() -> None:
    pool = CodePool(digits=1, first=1, count=2)
    with pytest.raises(CodeNotInUse):
        pool.release("1")                  # never allocated
    code = pool.allocate("a")
    pool.release(code)
    with pytest.raises(CodeNotInUse):
        pool.release(code)                 # released twice
    assert pool.owner(code) is None and (pool.in_use, pool.free) == (0, 2)
    assert issubclass(CodeNotInUse, CodeError) and issubclass(CodePoolExhausted, CodeError)


@pytest.mark.parametrize("kwargs", [
    {"digits": 0},
    {"digits": -1},
    {"digits": 2, "first": -1},
    {"digits": 2, "first": 10, "count": 0},
    {"digits": 2, "first": 90, "count": 11},   # 90..100: 100 has three digits
    {"digits": 2, "first": 100},               # nothing left to count
])
def test_pool_rejects_codes_that_do_not_fit(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        CodePool(**kwargs)


def test_pool_accepts_the_last_code_that_fits() -> None:
    pool = CodePool(digits=2, first=90, count=10)
    assert pool.free == 10
    assert [pool.allocate("a") for _ in range(10)][-1] == "99"


# -- directory and terminals -----------------------------------------------------


def directory() -> Directory:
    centres = {
        "north": Centre(name="north", terminals=("n1", "n2", "n3"), ring_timeout=15.0),
        "south": Centre(name="south", terminals=("s1",), ring_timeout=20.0),
    }
    services = {
        "loans": Service(code="loans", centres=("south", "north"), room_template="advisor"),
        "closed": Service(code="closed", centres=()),
    }
    return Directory(services=services, centres=centres)


def test_terminals_are_hunted_in_directory_order() -> None:
    pool = TerminalPool(directory())
    assert [pool.seize("north") for _ in range(4)] == ["n1", "n2", "n3", None]
    assert (pool.busy("north"), pool.size("north"), pool.busy("south")) == (3, 3, 0)


def test_released_terminal_is_the_first_hunted_again() -> None:
    pool = TerminalPool(directory())
    for _ in range(3):
        pool.seize("north")
    pool.release("n2")
    pool.release("n1")
    assert pool.busy("north") == 1
    assert [pool.seize("north"), pool.seize("north"), pool.seize("north")] == ["n1", "n2", None]


def test_excluded_terminals_are_skipped_but_stay_free() -> None:
    pool = TerminalPool(directory())
    assert pool.seize("north", exclude={"n1", "n2"}) == "n3"
    assert pool.seize("north", exclude={"n1", "n2"}) is None
    assert pool.busy("north") == 1
    assert pool.seize("north") == "n1"
    assert pool.seize("north") == "n2"


def test_centres_hold_their_terminals_apart() -> None:
    pool = TerminalPool(directory())
    assert pool.seize("south") == "s1"
    assert pool.seize("south") is None
    assert pool.seize("north") == "n1"
    pool.release("s1")
    assert (pool.busy("south"), pool.busy("north")) == (0, 1)


def test_directory_maps_a_form_to_its_route_in_failover_order() -> None:
    d = directory()
    code = d.service_code({"service": "loans", "name": "Ada"})
    assert code == "loans"
    assert d.route(code).centres == (CentreRoute(name="south", ring_timeout=20.0),
                                     CentreRoute(name="north", ring_timeout=15.0))
    assert d.route(code).room_template == "advisor"
    assert d.route("closed").centres == ()
    assert d.terminal_owner() == {"n1": "north", "n2": "north", "n3": "north", "s1": "south"}


@pytest.mark.parametrize("form", [{}, {"service": ""}, {"service": "mortgages"}])
def test_unknown_service_in_a_form(form: dict[str, str]) -> None:
    with pytest.raises(UnknownService):
        directory().service_code(form)


def test_unknown_service_code_has_no_route() -> None:
    with pytest.raises(UnknownService):
        directory().route("mortgages")


def test_a_service_naming_an_unknown_centre_is_refused() -> None:
    with pytest.raises(NoCentreForService, match="west"):
        Directory(services={"loans": Service(code="loans", centres=("west",))},
                  centres={})
    assert issubclass(NoCentreForService, DirectoryError)
    assert issubclass(UnknownService, DirectoryError)


# -- records -----------------------------------------------------------------------


def full_record(id: str = "42", **changes: object) -> CallbackRecord:
    fields: dict[str, object] = dict(
        id=id, form={"service": "loans", "name": "Zoë Ñúñez"}, person_number="+34600000001",
        service_code="loans", state="ended", outcome="connected", centre="north",
        terminal="n2", terminals_dialled=("s1", "n1", "n2"), code="0042", room="room-7",
        room_routing="rooms-b", room_refused=False,
        notices=("calling", "connecting", "connected", "room_ready", "ended"),
        failovers=1, ended_by="person",
        times={"requested": 0.0, "person_answered": 3.25, "bridged": 41.125, "ended": 161.5},
        timeline=(Step(0.0, "requested", "service loans, number +34600000001"),
                  Step(3.25, "person answered"),
                  Step(41.125, "bridged"),
                  Step(161.5, "ended", "connected")))
    fields.update(changes)
    return CallbackRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[RecordStore]:
    if request.param == "memory":
        yield MemoryRecords()
        return
    records = SqliteRecords()
    yield records
    records.close()


def test_store_round_trips_a_full_record(store: RecordStore) -> None:
    record = full_record()
    sparse = full_record("43", state="dialling_person", outcome=None, centre=None,
                         terminal=None, terminals_dialled=(), code=None, room=None,
                         room_routing=None, room_refused=True, notices=(), failovers=0,
                         ended_by=None, times={}, timeline=())
    store.put(record)
    store.put(sparse)
    assert store.get("42") == record
    assert store.get("43") == sparse
    assert store.get("44") is None
    assert len(store) == 2
    assert sorted(store, key=lambda r: r.id) == [record, sparse]


def test_second_put_replaces_the_whole_record(store: RecordStore) -> None:
    store.put(full_record())
    shorter = full_record(state="connected", outcome=None, timeline=(Step(0.0, "requested"),),
                          times={"requested": 0.0})
    store.put(shorter)
    assert len(store) == 1
    assert store.get("42") == shorter     # no step of the first timeline is left behind
    assert list(store) == [shorter]


def test_sqlite_records_survive_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "records.db")
    first = SqliteRecords(path)
    first.put(full_record())
    first.put(full_record("43", outcome="person_busy"))
    first.close()
    again = SqliteRecords(path)            # the schema exists already: no error
    assert len(again) == 2
    assert again.get("42") == full_record()
    assert again.get("43") == full_record("43", outcome="person_busy")
    again.close()


def test_a_desk_phone_belongs_to_one_centre() -> None:
    # Two centres sharing a number would let the pool hand one phone out twice.
    centres = {name: Centre(name=name, terminals=("+1", "+2"), ring_timeout=10.0)
               for name in ("north", "south")}
    with pytest.raises(DirectoryError, match=r"terminal \+1 is listed under centres"):
        Directory(services={}, centres=centres)
