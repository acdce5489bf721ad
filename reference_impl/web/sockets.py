"""Websockets: the status page's notices, and the two pages of a room.

Room messages, as JSON objects with a `type`:
  page -> server: `chat` {text}, `signal` {data: {sdp} | {candidate}}, `push` {name} (agent)
  server -> page: `joined`, `peer` {role, present}, `chat` {from, name, text, at},
                  `signal` {data}, `document` {id, name, kind}, `closed` {reason}, `waiting`
The server relays signalling between the two pages and never looks inside it.
"""

from __future__ import annotations

import json
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, cast

import tornado.websocket

from ..flow import Notice, Role
from .base import AGENT_COOKIE
from .notices import TEXTS, Told
from .rooms import Message, Room

if TYPE_CHECKING:
    from .app import WebApp


class Socket(tornado.websocket.WebSocketHandler):
    """A websocket of our pages: JSON messages out, malformed ones in ignored."""

    @property
    def app(self) -> "WebApp":
        """The application, typed as the `WebApp` it is."""
        return cast("WebApp", self.application)

    def send(self, message: Message) -> None:
        """Send a message as JSON; nothing if the page has gone."""
        try:
            self.write_message(json.dumps(message))
        except tornado.websocket.WebSocketClosedError:
            pass                                  # the page has gone; its close handler cleans up

    def received(self, raw: str | bytes) -> dict[str, Any] | None:
        """A page's message as a dict, or None for anything malformed (ignored, never fatal)."""
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        return message if isinstance(message, dict) else None


class StatusSocket(Socket):
    """The person's status page: every notice of their callback, as it happens."""

    _stop: Callable[[], None] | None = None

    def open(self, callback_id: str) -> None:
        """Send every notice so far, then each new one; close at once for an unknown callback."""
        self.callback_id = callback_id
        if self.app.switchboard.record(callback_id) is None:
            self.close()                          # no such callback: nothing will ever come
            return
        for told in self.app.notices.history(callback_id):
            self.tell(callback_id, told)
        self._stop = self.app.notices.listen(callback_id, self.tell)

    def tell(self, callback_id: str, told: Told) -> None:
        """Send one notice to the page, with the room link once the room is ready."""
        message: Message = {"notice": told.notice.value, "text": TEXTS[told.notice],
                            "final": told.final}
        if told.notice is Notice.ROOM_READY and told.room:
            room = self.app.rooms.rooms.get(told.room)
            if room is not None:
                message["room_url"] = f"/room/{room.person_token}"
        self.send(message)

    def on_message(self, message: str | bytes) -> None:
        """Ignore what the page sends: the status page only listens."""
        return None                               # the status page only listens

    def on_close(self) -> None:
        """Stop listening for the callback's notices."""
        if self._stop is not None:
            self._stop()


class RoomSocket(Socket):
    """A page in a room: relays its signalling and chat; `role` says whose page it is."""

    role: Role
    callback_id = ""

    def room(self) -> Room | None:
        """The callback's room, if this page is the one in it for its role."""
        room = self.app.rooms.of_callback(self.callback_id)
        return room if room is not None and room.peers.get(self.role) is self else None

    def on_message(self, raw: str | bytes) -> None:
        """Take a chat line, or signalling for the other page; `other` gets the rest."""
        message, room = self.received(raw), self.room()
        if message is None or room is None:
            return
        kind = message.get("type")
        if kind == "chat":
            self.chat(room, message.get("text"))
        elif kind == "signal" and isinstance(message.get("data"), dict):
            self.app.rooms.relay(room, self.role, {"type": "signal", "data": message["data"]})
        else:
            self.other(room, message)

    def chat(self, room: Room, text: object) -> None:
        """Send a chat line to both pages, cut to length and without control characters."""
        if not isinstance(text, str):
            return
        limit = self.app.web.chat_max_chars
        # Newlines stay; other control characters go. Pages show it as text, never as HTML.
        cleaned = "".join(ch for ch in text[:limit]
                          if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()
        if cleaned:
            self.app.rooms.broadcast(room, {"type": "chat", "from": self.role.value,
                                            "name": self.speaker(room), "text": cleaned,
                                            "at": time.time()})

    def speaker(self, room: Room) -> str:
        """The name shown beside this page's chat lines."""
        return "Advisor"

    def other(self, room: Room, message: dict[str, Any]) -> None:
        """A message that is neither chat nor signalling: ignored here."""
        return None

    def on_close(self) -> None:
        """Leave the room, or stop waiting for it."""
        self.app.rooms.leave(self.app.rooms.of_callback(self.callback_id), self.role, self,
                             self.callback_id)


class PersonSocket(RoomSocket):
    """The person's page in a room, reached by their room link."""

    role = Role.PERSON

    def open(self, token: str) -> None:
        """Enter the link's room; told "closed" if it is gone or not open to the person."""
        room = self.app.rooms.by_person_token(token)
        if room is None:
            self.send({"type": "closed", "reason": "This room is closed."})
            self.close()
            return
        self.callback_id = room.callback_id
        if not self.app.rooms.enter(room, Role.PERSON, self):
            self.send({"type": "closed", "reason": "This room is not open to you."})
            self.close()

    def speaker(self, room: Room) -> str:
        """The person's name from the form, or "You"."""
        record = self.app.switchboard.record(room.callback_id)
        return (record.form.get("name") if record else None) or "You"


class AgentSocket(RoomSocket):
    """The agent's page in a room, reached by a ticket; it may push catalogue documents."""

    role = Role.AGENT

    def open(self, ticket: str) -> None:
        """Enter the ticket's room or wait for it; told "closed" for a dead ticket or no cookie."""
        callback_id = self.app.tickets.callback(ticket)
        if callback_id is None or self.get_signed_cookie(AGENT_COOKIE, max_age_days=1) != b"1":
            self.send({"type": "closed", "reason": "This call has ended."})
            self.close()
            return
        self.callback_id = callback_id
        room = self.app.rooms.of_callback(callback_id)
        if room is None or not self.app.rooms.enter(room, Role.AGENT, self):
            self.app.rooms.wait(callback_id, self)
            self.send({"type": "waiting"})

    def other(self, room: Room, message: dict[str, Any]) -> None:
        """Push into the room the catalogue document a `push` message names."""
        if message.get("type") != "push" or not isinstance(message.get("name"), str):
            return
        record = self.app.switchboard.record(room.callback_id)
        service = record.service_code if record is not None else ""
        document = self.app.catalogue.load(message["name"], service)
        if document is not None:
            self.app.rooms.push(room, document, self.app.web.documents_per_room)
