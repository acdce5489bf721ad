"""Agent tickets: an agent whose code was accepted gets an unguessable link to its room."""

from __future__ import annotations

import secrets


class AgentTickets:
    def __init__(self) -> None:
        self._callback: dict[str, str] = {}          # ticket -> callback
        self._tickets: dict[str, set[str]] = {}      # callback -> its tickets

    def issue(self, callback_id: str) -> str:
        ticket = secrets.token_urlsafe(24)
        self._callback[ticket] = callback_id
        self._tickets.setdefault(callback_id, set()).add(ticket)
        return ticket

    def callback(self, ticket: str) -> str | None:
        return self._callback.get(ticket)

    def drop(self, callback_id: str) -> None:
        """The call is over: its tickets open nothing any more."""
        for ticket in self._tickets.pop(callback_id, ()):
            self._callback.pop(ticket, None)
