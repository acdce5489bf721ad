"""Agents' accounts: the store (on a SQLite file and on a throwaway PostgreSQL cluster,
beside the records), `callback-emu agents`, and failed sign-ins limited per (address,
name), per address and per account without locking out the agents behind one address
(a real server on loopback; other addresses are other 127.0.0.x sources)."""

from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
from argon2 import PasswordHasher
from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.testing import gen_test

from emulator.cli import main
from reference_impl.accounts import (MIN_PASSWORD, AccountError, AccountsError, AgentAccounts,
                                     check_password, clean_name, open_accounts)
from reference_impl.records import open_records
from reference_impl.web.limits import LoginLimits

from .test_records_sql import postgres_server, postgres_url  # noqa: F401 (fixtures)
from .test_web import AGENT, PASSWORD, WebCase

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


# -- the store, on both databases -----------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "records.sqlite3")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def accounts(url: str) -> Iterator[AgentAccounts]:
    store = open_accounts(url, FAST)
    yield store
    store.close()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_accounts_live_in_the_records_database_beside_the_records(url: str) -> None:
    records = open_records(url)                     # the records' own tables and migrations
    store = open_accounts(url)                      # argon2's defaults: the real thing
    try:
        assert store.add("  Ana.Garcia ", PASSWORD) == AGENT
        assert len(records) == 0 and len(store) == 1
        ((name, stored, created),) = rows(url, "SELECT name, hash, created FROM agents")
        assert name == AGENT and stored.startswith("$argon2id$") and PASSWORD not in stored
        assert created > 1.6e9
        assert store.verify("ANA.GARCIA", PASSWORD) == AGENT
        assert store.verify(AGENT, PASSWORD + "x") is None
    finally:
        store.close()
        records.close()
    reopened = open_accounts(url)                   # the tables are there: nothing to make
    try:
        assert [a.name for a in reopened.agents()] == [AGENT]
    finally:
        reopened.close()


def test_sessions_name_the_agent_and_end_at_sign_out_expiry_or_removal(
        accounts: AgentAccounts, url: str) -> None:
    accounts.add(AGENT, PASSWORD)
    accounts.add("bob.lopez", "another long passphrase")
    ana = accounts.open_session(AGENT, 3600)
    assert accounts.session_agent(ana.token) == AGENT
    ((stored_id,),) = rows(url, "SELECT id FROM agent_sessions")
    assert ana.token not in stored_id and len(stored_id) == 64   # only its SHA-256 is kept
    other = open_accounts(url, FAST)                # another connection sees the same
    try:
        assert other.session_agent(ana.token) == AGENT
        other.revoke(ana.token)
        assert accounts.session_agent(ana.token) is None       # revoked for everyone
    finally:
        other.close()
    now = [accounts.clock()]
    accounts.clock = lambda: now[0]
    short = accounts.open_session("bob.lopez", 60)
    assert accounts.session_agent(short.token) == "bob.lopez"
    assert [(a.name, a.sessions) for a in accounts.agents()] == [(AGENT, 0), ("bob.lopez", 1)]
    now[0] += 61
    assert accounts.session_agent(short.token) is None         # expired
    bob = accounts.open_session("bob.lopez", 3600)
    accounts.remove("bob.lopez")
    assert accounts.session_agent(bob.token) is None           # the account is gone
    assert rows(url, "SELECT COUNT(*) FROM agent_sessions WHERE agent = 'bob.lopez'") == [(0,)]
    for junk in ("", "x" * 1000, "demo.abc"):
        assert accounts.session_agent(junk) is None
    with pytest.raises(AccountError, match="no agent named 'bob.lopez'"):
        accounts.remove("bob.lopez")
    with pytest.raises(AccountError, match="no agent named 'nobody'"):
        accounts.open_session("nobody", 60)


def test_names_are_unique_and_bad_names_and_passwords_are_refused(accounts: AgentAccounts) -> None:
    accounts.add(AGENT, PASSWORD)
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("ANA.GARCIA", "some other passphrase")
    for name in ("a", "", " x ", "-ana", "ana garcia", "ana/../x", "é" * 3, "a" * 65, 7):
        with pytest.raises(AccountError):
            accounts.add(name, PASSWORD)                         # type: ignore[arg-type]
    for password in ("short", "x" * (MIN_PASSWORD - 1), "x" * 2000, None):
        with pytest.raises(AccountError):
            accounts.add("bob.lopez", password)                  # type: ignore[arg-type]
    assert [a.name for a in accounts.agents()] == [AGENT]
    assert clean_name("Ana@Example.com") == "ana@example.com"
    assert check_password("x" * MIN_PASSWORD) == "x" * MIN_PASSWORD


def test_an_unknown_name_costs_as_much_as_a_known_one(accounts: AgentAccounts) -> None:
    accounts.add(AGENT, PASSWORD)
    checked: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, stored: str | bytes, password: str | bytes) -> bool:
            checked.append(str(stored))
            return super().verify(stored, password)

    accounts.hasher = Counting(time_cost=1, memory_cost=1024, parallelism=1)
    assert accounts.verify("nobody", PASSWORD) is None
    assert accounts.verify("x", "short") is None
    assert accounts.verify(AGENT, "wrong wrong wrong") is None
    assert len(checked) == 3 and all(s.startswith("$argon2id$") for s in checked)


def test_a_hash_made_with_older_parameters_is_renewed_at_sign_in(url: str) -> None:
    old = open_accounts(url, FAST)
    old.add(AGENT, PASSWORD)
    old.close()
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    store = open_accounts(url, stronger)
    try:
        assert store.verify(AGENT, PASSWORD) == AGENT
        ((stored,),) = rows(url, "SELECT hash FROM agents")
        assert "m=2048,t=2" in stored
    finally:
        store.close()


def test_a_bad_database_is_refused_with_one_line(tmp_path: Path) -> None:
    for url in ("mysql://nowhere/x", "sqlite:/x.db", ""):
        with pytest.raises(AccountsError):
            open_accounts(url)
    (tmp_path / "not-a-db").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(AccountsError):
        open_accounts(str(tmp_path / "not-a-db"))


# -- callback-emu agents ---------------------------------------------------------------


def run_agents(argv: list[str], capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["agents", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_agents_add_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "cb.sqlite3")
    code, out, _ = run_agents(["add", "Ana.Garcia", "--password-stdin", "--db", db], capsys,
                              monkeypatch, PASSWORD + "\n")
    assert code == 0 and out == f"agent {AGENT} added ({db})\n"
    code, out, _ = run_agents(["list", "--db", db], capsys, monkeypatch)
    assert code == 0 and out.splitlines()[0].split() == ["name", "created", "open", "sessions"]
    assert re.fullmatch(rf"{re.escape(AGENT)}  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  0",
                        out.splitlines()[1])
    store = open_accounts(db)
    try:
        assert store.verify(AGENT, PASSWORD) == AGENT          # the line, without its newline
    finally:
        store.close()
    code, out, _ = run_agents(["remove", "ana.garcia", "--db", db], capsys, monkeypatch)
    assert code == 0 and "removed" in out
    code, out, _ = run_agents(["list", "--db", db], capsys, monkeypatch)
    assert "no agents" in out


@pytest.mark.parametrize("argv, stdin, words", [
    (["add", "a", "--password-stdin"], PASSWORD, "too short: at least 2 characters"),
    (["add", "ana", "--password-stdin"], "short\n", "at least 12 characters"),
    (["add", "ana"], "", "use --password-stdin"),               # no terminal to ask on
    (["remove", "nobody"], "", "no agent named 'nobody'"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], stdin: str, words: str,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_agents([*argv, "--db", str(tmp_path / "cb.sqlite3")], capsys,
                              monkeypatch, stdin)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err


def test_a_name_twice_and_a_bad_database_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", str(tmp_path / "cb.sqlite3")]
    assert run_agents(["add", "ana", "--password-stdin", *db], capsys, monkeypatch,
                      PASSWORD)[0] == 0
    code, _, err = run_agents(["add", "ANA", "--password-stdin", *db], capsys, monkeypatch,
                              PASSWORD)
    assert code == 2 and "already exists" in err
    code, _, err = run_agents(["list", "--db", "mysql://nowhere/x"], capsys, monkeypatch)
    assert code == 2 and err.startswith("callback-emu: --db:")
    code, _, err = run_agents(["list", "--db", str(tmp_path / "no" / "such" / "x.db")],
                              capsys, monkeypatch)
    assert code == 2 and "no such folder" in err


def test_the_prompt_asks_twice_and_refuses_two_different_passwords(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = ["--db", str(tmp_path / "cb.sqlite3")]
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", tty)
    assert main(["agents", "add", "ana", *db]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    answers = iter([PASSWORD, PASSWORD])
    assert main(["agents", "add", "ana", *db]) == 0


def test_agents_uses_serves_default_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.cli.serve import default_db

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert run_agents(["add", "ana", "--password-stdin"], capsys, monkeypatch,
                      PASSWORD)[0] == 0
    assert default_db().exists()
    assert rows(str(default_db()), "SELECT name FROM agents") == [("ana",)]


# -- failed sign-ins over HTTP -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestSignInLimits(WebCase):
    def setUp(self) -> None:
        super().setUp()
        self.accounts.add("bob.lopez", "another long passphrase")
        self.clock = Clock()
        self._app.signin.limits = LoginLimits(clock=self.clock)  # type: ignore[attr-defined]

    async def sign_in(self, name: str, password: str, address: str = "127.0.0.1") -> HTTPResponse:
        """The agent page's form, from `address` (a browser of its own: its own cookies)."""
        page = await self.fetch_from(address, "/agent")
        token = re.search(r'name="_xsrf" value="([^"]+)"', page.body.decode())
        assert token
        cookie = "; ".join(h.split(";")[0] for h in page.headers.get_list("Set-Cookie"))
        body = urllib.parse.urlencode({"name": name, "password": password, "code": "",
                                       "_xsrf": token.group(1)})
        return await self.fetch_from(address, "/agent", "POST", body, {"Cookie": cookie})

    async def fetch_from(self, address: str, path: str, method: str = "GET",
                         body: str | None = None,
                         headers: dict[str, str] | None = None) -> HTTPResponse:
        request = HTTPRequest(self.get_url(path), method=method, body=body, headers=headers,
                              follow_redirects=False, network_interface=address)
        return await self.http_client.fetch(request, raise_error=False)

    @gen_test
    async def test_one_agents_failures_do_not_lock_out_another_behind_the_same_address(
            self) -> None:
        for _ in range(3):                                   # the free tries
            assert (await self.sign_in("bob.lopez", "wrong wrong wrong")).code == 403
        refused = await self.sign_in("bob.lopez", "another long passphrase")
        assert refused.code == 429 and refused.headers["Retry-After"] == "1"
        assert "Too many failed sign-ins" in refused.body.decode()
        assert (await self.sign_in(AGENT, PASSWORD)).code == 303     # Ana, at the next desk

    @gen_test
    async def test_delays_grow_with_each_failure_and_a_success_clears_them(self) -> None:
        waits = []
        for _ in range(7):
            response = await self.sign_in(AGENT, "wrong wrong wrong")
            if response.code == 429:
                waits.append(int(response.headers["Retry-After"]))
                self.clock.now += waits[-1]                  # wait as told, then fail again
                assert (await self.sign_in(AGENT, "wrong wrong wrong")).code == 403
        assert waits == [1, 2, 4, 8]
        self.clock.now += 16
        assert (await self.sign_in(AGENT, PASSWORD)).code == 303
        assert (await self.sign_in(AGENT, "wrong wrong wrong")).code == 403   # counts anew

    @gen_test
    async def test_one_address_trying_many_names_meets_a_higher_ceiling(self) -> None:
        here = "127.0.0.3"
        for n in range(20):
            assert (await self.sign_in(f"guess{n}", "wrong wrong wrong", here)).code == 403
        assert (await self.sign_in("guess20", "wrong wrong wrong", here)).code == 429
        assert (await self.sign_in(AGENT, PASSWORD, here)).code == 429   # the whole address
        assert (await self.sign_in(AGENT, PASSWORD, "127.0.0.4")).code == 303

    @gen_test
    async def test_many_addresses_against_one_account_slow_it_but_not_where_it_signs_in(
            self) -> None:
        assert (await self.sign_in(AGENT, PASSWORD)).code == 303         # Ana's own desk
        for n in range(10):
            address = f"127.0.1.{n + 1}"
            assert (await self.sign_in(AGENT, "wrong wrong wrong", address)).code == 403
        assert (await self.sign_in(AGENT, PASSWORD, "127.0.2.1")).code == 429   # elsewhere
        assert (await self.sign_in(AGENT, PASSWORD)).code == 303         # but not at her desk

    @gen_test
    async def test_api_credentials_are_limited_like_the_page(self) -> None:
        def basic(password: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(
                f"{AGENT}:{password}".encode()).decode()}

        codes = [(await self.go("/api/rooms", headers=basic("wrong wrong wrong"))).code
                 for _ in range(4)]
        assert codes == [403, 403, 403, 429]
        response = await self.go("/api/rooms", headers=basic(PASSWORD))
        assert response.code == 429 and response.headers["Retry-After"] == "1"
        assert json.loads(response.body)["error"].startswith("too many failed sign-ins")
        assert (await self.sign_in(AGENT, PASSWORD)).code == 429        # one count for both
        self.clock.now += 1
        assert (await self.go("/api/rooms", headers=basic(PASSWORD))).code == 200
        keys = [(await self.go("/api/rooms", headers={"X-Agent-Key": f"k{n}"})).code
                for n in range(5)]
        assert keys[-1] == 429                    # no shared key here, and guesses are limited
