"""Agents' accounts: names, argon2 password hashes and sign-in sessions, kept in the
records database (a SQLite file or PostgreSQL, the URL `serve --db` takes).

Two tables, created when a store opens: `agents` (name, argon2 hash, created)
and `agent_sessions` (id, agent, created, expires, revoked). A session's id
column holds the SHA-256 of the random token the agent's cookie carries, so
a copy of the database opens no session. Names are 2 to 64 characters
(letters, digits, `.`, `_`, `-`, `@`; stored in lower case); passwords at
least 12 characters. `open_accounts` opens a store on its own connection.
"""

from ._rules import MAX_PASSWORD, MIN_PASSWORD, AccountError, check_password, clean_name
from ._store import Agent, AgentAccounts, AccountsError, Session, open_accounts

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "AccountError", "AccountsError", "Agent",
           "AgentAccounts", "Session", "check_password", "clean_name", "open_accounts"]
