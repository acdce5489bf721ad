"""The accounts store: agents with argon2 password hashes, and their sign-in sessions."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ._db import AccountsError, Database, Duplicate, PostgresDatabase, connect
from ._rules import AccountError, check_password, clean_name

__all__ = ["Agent", "AgentAccounts", "AccountsError", "Session", "open_accounts"]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS agents ("
    " name TEXT PRIMARY KEY,"
    " hash TEXT NOT NULL,"
    " created DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_sessions ("
    " id TEXT PRIMARY KEY,"                      # SHA-256 of the cookie's token, hex
    " agent TEXT NOT NULL REFERENCES agents (name) ON DELETE CASCADE,"
    " created DOUBLE PRECISION NOT NULL,"
    " expires DOUBLE PRECISION NOT NULL,"
    " revoked DOUBLE PRECISION)",
    "CREATE INDEX IF NOT EXISTS agent_sessions_agent ON agent_sessions (agent)",
)
_KEEP_ENDED = 7 * 86400.0        # ended sessions stay this long (who signed in when), then go


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent as listed: the name, when the account was made, its open sessions."""

    name: str
    created: float
    sessions: int


@dataclass(frozen=True, slots=True)
class Session:
    """A new sign-in: the token for the agent's cookie, and when it expires (epoch seconds)."""

    token: str
    agent: str
    expires: float


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentAccounts:
    """Agents and sessions in a database of their own connection (`open_accounts`)."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self._dummy: str | None = None           # hashed once: unknown names cost the same
        lock = db.lock_schema() if isinstance(db, PostgresDatabase) else None
        db.transaction([*([lock] if lock else []), *((sql, ()) for sql in _TABLES)])

    # -- accounts (the command line) ------------------------------------------

    def add(self, name: str, password: str) -> str:
        """Make an account; the name as stored. `AccountError` for a bad name or password,
        or a name already taken."""
        cleaned, password = clean_name(name), check_password(password)
        try:
            self._db.run("INSERT INTO agents (name, hash, created) VALUES (?, ?, ?)",
                         (cleaned, self.hasher.hash(password), self.clock()))
        except Duplicate:
            raise AccountError(f"agent {cleaned!r} already exists") from None
        return cleaned

    def remove(self, name: str) -> str:
        """Delete an account and every session of it (the name as stored); `AccountError`
        if there is none."""
        cleaned = clean_name(name)
        _, gone = self._db.transaction([
            ("DELETE FROM agent_sessions WHERE agent = ?", (cleaned,)),
            ("DELETE FROM agents WHERE name = ?", (cleaned,))])
        if gone.count < 1:
            raise AccountError(f"no agent named {cleaned!r}")
        return cleaned

    def agents(self) -> list[Agent]:
        """Every account, by name, with its open sessions counted."""
        rows = self._db.run(
            "SELECT a.name, a.created, (SELECT COUNT(*) FROM agent_sessions s"
            " WHERE s.agent = a.name AND s.revoked IS NULL AND s.expires > ?)"
            " FROM agents a ORDER BY a.name", (self.clock(),)).rows
        return [Agent(str(name), float(created), int(count)) for name, created, count in rows]

    def __len__(self) -> int:
        """How many accounts there are."""
        return int(self._db.run("SELECT COUNT(*) FROM agents").rows[0][0])

    # -- signing in (the web app) ---------------------------------------------

    def verify(self, name: str, password: str) -> str | None:
        """The agent's stored name if `password` is theirs; None otherwise. An unknown or
        malformed name costs one argon2 verification too, so timing tells nothing. Slow
        (about 0.1 s): the web app runs it off its loop."""
        try:
            cleaned = clean_name(name)
            password = check_password(password)
        except AccountError:
            cleaned, password = "", password if isinstance(password, str) else ""
        rows = self._db.run("SELECT hash FROM agents WHERE name = ?", (cleaned,)).rows \
            if cleaned else []
        stored = str(rows[0][0]) if rows else self._dummy_hash()
        try:
            self.hasher.verify(stored, password[:4096])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        if self.hasher.check_needs_rehash(stored):
            self._db.run("UPDATE agents SET hash = ? WHERE name = ?",
                         (self.hasher.hash(password), cleaned))
        return cleaned

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def open_session(self, agent: str, lifetime: float) -> Session:
        """A new session of `agent` for `lifetime` seconds (ended ones long past are swept)."""
        now, token = self.clock(), secrets.token_urlsafe(32)
        try:
            self._db.transaction([
                ("DELETE FROM agent_sessions WHERE expires < ? OR revoked < ?",
                 (now - _KEEP_ENDED, now - _KEEP_ENDED)),
                ("INSERT INTO agent_sessions (id, agent, created, expires) VALUES (?, ?, ?, ?)",
                 (_session_id(token), agent, now, now + lifetime))])
        except Duplicate:
            raise AccountError(f"no agent named {agent!r}") from None   # removed meanwhile
        return Session(token, agent, now + lifetime)

    def session_agent(self, token: str) -> str | None:
        """The agent a cookie's token signs in: None if it is unknown, expired, revoked, or
        its account was removed."""
        if not token or len(token) > 200:
            return None
        rows = self._db.run(
            "SELECT s.agent FROM agent_sessions s JOIN agents a ON a.name = s.agent"
            " WHERE s.id = ? AND s.revoked IS NULL AND s.expires > ?",
            (_session_id(token), self.clock())).rows
        return str(rows[0][0]) if rows else None

    def revoke(self, token: str) -> None:
        """End a session (sign-out): its token opens nothing from now on."""
        if token and len(token) <= 200:
            self._db.run("UPDATE agent_sessions SET revoked = ? WHERE id = ? AND revoked IS NULL",
                         (self.clock(), _session_id(token)))

    def close(self) -> None:
        """Let go of the database connection."""
        self._db.close()


def open_accounts(url_or_path: str, hasher: PasswordHasher | None = None) -> AgentAccounts:
    """The accounts in the database `serve --db` takes: a SQLite path, `sqlite:///path`,
    ":memory:" or `postgresql://…`; the tables are made if missing. `AccountsError` if the
    database cannot be opened."""
    db = connect(url_or_path)
    try:
        return AgentAccounts(db, hasher)
    except BaseException:
        db.close()
        raise
