"""Agent tickets: an agent whose code was accepted gets an unguessable link to its room."""

from __future__ import annotations

import secrets


class AgentTickets:
    """The links an agent's accepted code opens, by callback, dropped when the call ends."""

    def __init__(self) -> None:
        self._callback: dict[str, str] = {}          # ticket -> callback
        self._tickets: dict[str, set[str]] = {}      # callback -> its tickets

    def issue(self, callback_id: str) -> str:
        """A new unguessable ticket to the room of a callback."""
        ticket = secrets.token_urlsafe(24)
        self._callback[ticket] = callback_id
        self._tickets.setdefault(callback_id, set()).add(ticket)
        return ticket

    def callback(self, ticket: str) -> str | None:
        """The callback a ticket opens; None once the call is over, or for a wrong one."""
        return self._callback.get(ticket)

    def drop(self, callback_id: str) -> None:
        """The call is over: its tickets open nothing any more."""
        for ticket in self._tickets.pop(callback_id, ()):
            self._callback.pop(ticket, None)
