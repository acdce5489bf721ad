"""How agents sign in: an account's name and password, or demo mode's shared key; their
sessions; and the limit on failed tries.

A session is a random token in the agent's cookie naming a server-side record
(the accounts database; demo sessions live in memory, since demo mode has no
accounts). Signing out revokes the record, so the old cookie opens nothing.
Passwords are checked by argon2 in a small thread pool of the app's own,
never on the loop, each attempt counted before it is checked.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from ..accounts import AccountError, AgentAccounts, Session, clean_name
from .limits import LoginLimits

DEMO_AGENT = "demo"                 # who the shared key signs in
_DEMO_PREFIX = "demo."              # a demo session's token (account tokens have no dot)
_KEY_NAME = "\x00key"               # the limiter's name for the key: no account has it


@dataclass(frozen=True, slots=True)
class Verdict:
    """A sign-in attempt's answer: the agent signed in, or None; `wait` > 0 when refused
    for too many failures (seconds before the next try)."""

    agent: str | None = None
    wait: float = 0.0


class DemoSessions:
    """Demo mode's sessions, in memory (at most `keep`, the oldest forgotten first)."""

    def __init__(self, clock: Callable[[], float] = time.time, keep: int = 10_000) -> None:
        self.clock = clock
        self.keep = keep
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def open_session(self, agent: str, lifetime: float) -> Session:
        """A new session of `agent` for `lifetime` seconds."""
        token = _DEMO_PREFIX + secrets.token_urlsafe(32)
        expires = self.clock() + lifetime
        self._sessions[token] = (agent, expires)
        while len(self._sessions) > self.keep:
            self._sessions.popitem(last=False)
        return Session(token, agent, expires)

    def session_agent(self, token: str) -> str | None:
        """The agent of a live session; None for an unknown, expired or revoked one."""
        found = self._sessions.get(token)
        if found is None:
            return None
        if found[1] <= self.clock():
            del self._sessions[token]
            return None
        return found[0]

    def revoke(self, token: str) -> None:
        """End a session."""
        self._sessions.pop(token, None)


class SignIn:
    """The app's sign-in: accounts and/or demo keys, sessions, limits, the hashing pool."""

    def __init__(self, accounts: AgentAccounts | None, keys: frozenset[str],
                 limits: LoginLimits, lifetime: float) -> None:
        self.accounts = accounts
        self.keys = keys
        self.limits = limits
        self.lifetime = lifetime
        self.demo = DemoSessions()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def demo_mode(self) -> bool:
        """Whether the shared key signs agents in (and the agent page asks for it)."""
        return bool(self.keys)

    # -- sessions ------------------------------------------------------------

    def open_session(self, agent: str) -> Session:
        """A new session for an agent just signed in."""
        if agent == DEMO_AGENT and self.demo_mode:
            return self.demo.open_session(agent, self.lifetime)
        if self.accounts is None:
            raise AccountError("no accounts here")
        return self.accounts.open_session(agent, self.lifetime)

    def session_agent(self, token: str | None) -> str | None:
        """Who a cookie's token signs in, or None."""
        if not token:
            return None
        if token.startswith(_DEMO_PREFIX):
            return self.demo.session_agent(token) if self.demo_mode else None
        return self.accounts.session_agent(token) if self.accounts is not None else None

    def revoke(self, token: str | None) -> None:
        """Sign out: the session's token opens nothing from now on."""
        if not token:
            return
        if token.startswith(_DEMO_PREFIX):
            self.demo.revoke(token)
        elif self.accounts is not None:
            self.accounts.revoke(token)

    # -- credentials ---------------------------------------------------------

    def key(self, address: str, key: str) -> Verdict:
        """Demo mode's shared key, from `address`: limited like a password."""
        wait = self.limits.wait(address, _KEY_NAME)
        if wait > 0:
            return Verdict(wait=wait)
        self.limits.attempt(address, _KEY_NAME)
        encoded = key.encode("utf-8", "replace")
        if any(hmac.compare_digest(encoded, k.encode()) for k in self.keys):
            self.limits.succeeded(address, _KEY_NAME)
            return Verdict(DEMO_AGENT)
        return Verdict()

    async def password(self, address: str, name: str, password: str) -> Verdict:
        """An account's name and password, from `address`, checked off the loop."""
        try:
            label = clean_name(name)
        except AccountError:
            label = name[:64]
        wait = self.limits.wait(address, label)
        if wait > 0:
            return Verdict(wait=wait)
        self.limits.attempt(address, label)
        if self.accounts is None:
            return Verdict()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")
        agent = await asyncio.get_running_loop().run_in_executor(
            self._pool, self.accounts.verify, name, password)
        if agent is not None:
            self.limits.succeeded(address, label)
        return Verdict(agent)

    def close(self) -> None:
        """Stop the hashing pool's threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
