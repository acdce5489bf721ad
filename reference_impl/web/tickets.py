"""Agent tickets: an agent whose code was accepted gets an unguessable link to its room,
good for that agent only."""

from __future__ import annotations

import secrets


class AgentTickets:
    """The links an agent's accepted code opens, by callback, dropped when the call ends."""

    def __init__(self) -> None:
        self._callback: dict[str, tuple[str, str]] = {}  # ticket -> (callback, agent)
        self._tickets: dict[str, set[str]] = {}          # callback -> its tickets

    def issue(self, callback_id: str, agent: str) -> str:
        """A new unguessable ticket to the room of a callback, for `agent`."""
        ticket = secrets.token_urlsafe(24)
        self._callback[ticket] = (callback_id, agent)
        self._tickets.setdefault(callback_id, set()).add(ticket)
        return ticket

    def callback(self, ticket: str, agent: str | None = None) -> str | None:
        """The callback a ticket opens (for `agent`, when named); None once the call is
        over, for a wrong ticket, or for another agent's."""
        found = self._callback.get(ticket)
        if found is None or (agent is not None and found[1] != agent):
            return None
        return found[0]

    def agent(self, callback_id: str) -> str | None:
        """The agent whose code a live callback took, if any."""
        for ticket in self._tickets.get(callback_id, ()):
            return self._callback[ticket][1]
        return None

    def drop(self, callback_id: str) -> None:
        """The call is over: its tickets open nothing any more."""
        for ticket in self._tickets.pop(callback_id, ()):
            self._callback.pop(ticket, None)
