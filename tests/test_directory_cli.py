"""`callback-emu directory`: list, add, edit and import the directory serve keeps in its
records database, on a SQLite file and on PostgreSQL; and serve seeding it on its first
start, then reading it from there.

Every refusal exits 2 with one line that says what and where, and writes nothing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from emulator import scenario as sc
from emulator.cli import main
from emulator.drivers.serve import DEFAULT_SCENARIO, build, desk_agents, stored_directory
from reference_impl.records import SqliteRecords, open_directory

from .test_records_sql import postgres_server, postgres_url  # noqa: F401 (fixtures)

LOGO = Path(__file__).resolve().parents[1] / "scenarios" / "serve" / "logos" / "insurance.png"


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(["directory", *words])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "records.sqlite3")


def test_import_then_list_shows_services_centres_and_templates(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--db", db)
    assert code == 0 and "no directory in" in out
    code, out, _ = run(capsys, "import", str(DEFAULT_SCENARIO), "--db", db)
    assert code == 0 and "2 services, 2 centres, 2 room templates" in out
    code, out, _ = run(capsys, "list", "--db", db)
    assert code == 0
    assert "mortgages  Mortgages       madrid > barcelona  advisor" in out
    assert "barcelona  20s   -      +34930000001, +34930000002" in out
    assert "home_cover  Home insurance claims" in out and "off" in out.splitlines()[-1]
    code, out, _ = run(capsys, "list", "--json", "--db", db)
    listed = json.loads(out)
    assert [t["name"] for t in listed["templates"]] == ["advisor", "home_cover"]
    assert listed["templates"][1]["documents"] == ["cover.png", "terms.pdf"]
    assert listed["services"][1]["room_template"] == "home_cover"


def test_add_and_edit_each_kind(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "import", str(DEFAULT_SCENARIO), "--db", db)
    steps = [
        ("add", "centre", "sevilla", "--desk-phones", "+34950000001, +34950000002",
         "--ring-timeout", "25s", "--queue-max-wait", "1min"),
        ("add", "template", "cards", "--title", "Credit cards", "--accent", "#b91c1c",
         "--logo", str(LOGO), "--documents", "terms.pdf", "--chat", "off"),
        ("add", "service", "cards", "--centres", "sevilla,madrid", "--label", "Credit cards",
         "--room-template", "cards", "--hours", "mon-fri=08:00-20:00", "--hours",
         "sat=09:00-14:00", "--holidays", "2026-12-24,2026-12-31", "--slots", "15min/10"),
        ("edit", "template", "advisor", "--greeting", "Hello!", "--background", "none",
         "--documents", "all"),
        ("edit", "service", "insurance", "--holidays", "ES", "--label", "Home"),
    ]
    for step in steps:
        code, out, err = run(capsys, *step, "--db", db)
        assert code == 0, err
    assert "it applies in the next room" in run(capsys, "edit", "template", "cards", "--chat",
                                                "on", "--db", db)[1]
    store = open_directory(db)
    try:
        directory = store.load()
    finally:
        store.close()
    cards = directory.services["cards"]
    assert (cards.centres, cards.label, cards.room_template) == (
        ("sevilla", "madrid"), "Credit cards", "cards")
    assert cards.hours == (("mon-fri", "08:00-20:00"), ("sat", "09:00-14:00"))
    assert [d.isoformat() for d in cards.holidays] == ["2026-12-24", "2026-12-31"]
    assert (cards.slot_every, cards.slot_capacity) == (900.0, 10)
    sevilla = directory.centres["sevilla"]
    assert (sevilla.terminals, sevilla.ring_timeout, sevilla.queue_max_wait) == (
        ("+34950000001", "+34950000002"), 25.0, 60.0)
    template = directory.templates["cards"]
    assert template.logo is not None and template.logo.data == LOGO.read_bytes()
    assert (template.colours.accent, template.documents, template.chat) == (
        "#b91c1c", ("terms.pdf",), True)
    advisor = directory.templates["advisor"]
    assert (advisor.greeting, advisor.colours.background, advisor.documents) == (
        "Hello!", None, None)
    assert advisor.colours.accent == "#1e40af"                 # what was not given stays
    assert directory.services["insurance"].holiday_country == "ES"


@pytest.mark.parametrize("words, said", [
    (("add", "service", "mortgages", "--centres", "madrid"), "it exists already"),
    (("edit", "service", "loans", "--label", "x"), "there is no such service"),
    (("edit", "template", "advisor"), "give an option to change"),
    (("add", "service", "loans", "--centres", "nowhere"), "unknown centre(s): nowhere"),
    (("edit", "service", "mortgages", "--room-template", "nope"), "'nope', which is not defined"),
    (("edit", "service", "mortgages", "--hours", "mon-fri"), "write DAYS=HH:MM-HH:MM"),
    (("edit", "service", "mortgages", "--hours", "weekdays=08:00-20:00"), "days are mon"),
    (("edit", "service", "mortgages", "--slots", "15min"), "write EVERY/CAPACITY"),
    (("edit", "template", "advisor", "--accent", "#1234"), "colours.accent: '#1234'"),
    (("edit", "template", "advisor", "--documents", "rates.png,secret.pdf"),
     "documents[1]: 'secret.pdf' is in no catalogue folder"),
    (("edit", "template", "advisor", "--logo", "/nonexistent.png"), "cannot read it"),
    (("edit", "template", "advisor", "--logo", str(Path(__file__))), "PNG, JPEG, GIF or WebP"),
    (("edit", "template", "advisor", "--title", ""), "title: must not be empty"),
    (("add", "template", "bad name"), "name: 'bad name'"),
    (("add", "centre", "sevilla", "--desk-phones", "+34910000001"),
     "terminal +34910000001 is listed under centres 'madrid' and 'sevilla'"),
    (("edit", "centre", "madrid", "--queue-max-wait", "soon"), "--queue-max-wait soon"),
])
def test_bad_input_exits_2_with_what_and_where_and_changes_nothing(
        db: str, capsys: pytest.CaptureFixture[str], words: tuple[str, ...], said: str) -> None:
    run(capsys, "import", str(DEFAULT_SCENARIO), "--db", db)
    before = run(capsys, "list", "--json", "--db", db)[1]
    code, out, err = run(capsys, *words, "--db", db)
    assert code == 2 and out == "" and said in err, err
    assert err.startswith("callback-emu: ") and err.count("\n") == 1
    assert run(capsys, "list", "--json", "--db", db)[1] == before


def test_import_merges_unless_told_to_replace(db: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small.yaml"
    small.write_text("name: small\nservices:\n  cards: {centres: [sevilla]}\ncentres:\n"
                     "  sevilla: {terminals: ['+34950000001']}\ncallbacks:\n"
                     "  - {service: cards}\n")
    run(capsys, "import", str(DEFAULT_SCENARIO), "--db", db)
    run(capsys, "import", str(small), "--db", db)
    listed = json.loads(run(capsys, "list", "--json", "--db", db)[1])
    assert [s["code"] for s in listed["services"]] == ["mortgages", "insurance", "cards"]
    code, out, _ = run(capsys, "import", str(small), "--replace", "--db", db)
    assert code == 0 and out.startswith("replaced the directory by")
    listed = json.loads(run(capsys, "list", "--json", "--db", db)[1])
    assert [s["code"] for s in listed["services"]] == ["cards"] and listed["templates"] == []


def test_a_bad_scenario_or_database_is_refused(db: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nservices:\n  cards: {centres: [sevilla], room_template: x}\n"
                   "centres:\n  sevilla: {terminals: 1}\nroom_templates:\n  y: {}\n"
                   "callbacks:\n  - {service: cards}\n")
    code, _, err = run(capsys, "import", str(bad), "--db", db)
    assert code == 2 and "bad.yaml:3: services.cards.room_template: unknown room template 'x'" \
        in err
    code, _, err = run(capsys, "list", "--db", str(tmp_path / "missing" / "x.sqlite3"))
    assert code == 2 and "no such folder" in err
    code, _, err = run(capsys, "list", "--db", "mysql://nowhere/x")
    assert code == 2 and "--db" in err and "unknown scheme" in err


def test_the_same_commands_on_postgres(postgres_url: str,  # noqa: F811
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "import", str(DEFAULT_SCENARIO), "--db", postgres_url)[0] == 0
    assert run(capsys, "edit", "template", "home_cover", "--logo", "none", "--db",
               postgres_url)[0] == 0
    listed = json.loads(run(capsys, "list", "--json", "--db", postgres_url)[1])
    assert listed["templates"][1]["logo"] is None
    assert listed["templates"][0]["logo"]["content_type"] == "image/png"


def test_serve_seeds_the_directory_once_then_reads_it_from_the_database(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = sc.load(DEFAULT_SCENARIO).scenario
    store = stored_directory(db, scenario, "first.yaml")
    store.close()
    assert "seeded from first.yaml" in capsys.readouterr().out
    run(capsys, "add", "centre", "sevilla", "--desk-phones", "+34950000001", "--db", db)
    run(capsys, "add", "service", "cards", "--centres", "sevilla", "--label", "Cards",
        "--db", db)
    other = scenario.model_copy(update={"services": {"mortgages": scenario.services["mortgages"]}})
    store = stored_directory(db, other, "second.yaml")      # a later start, another file
    records = SqliteRecords(str(tmp_path / "other.sqlite3"))
    try:
        assert "the directory is the database's (seeded from first.yaml" in \
            capsys.readouterr().out
        loop = asyncio.new_event_loop()
        app, _ = build(other, records, "key", loop=loop, directory_store=store)
        assert list(app.directory.services) == ["mortgages", "insurance", "cards"]
        assert app.directory.terminal_owner()["+34950000001"] == "sevilla"
        assert app.directory_store is store
        loop.close()
    finally:
        records.close()
        store.close()
    # The emulated agent at a desk phone the directory added: the first centre's.
    stored = open_directory(db)
    try:
        agents = desk_agents(scenario, stored.load())
    finally:
        stored.close()
    assert agents["+34950000001"] == scenario.agent(scenario.centres["madrid"].agent)
