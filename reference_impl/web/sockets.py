"""Websockets: the status page's notices, and the two pages of a room.

Room messages, as JSON objects with a `type`:
  page -> server: `chat` {text}, `signal` {data: {sdp} | {candidate}}, `push` {name} (agent)
  server -> page: `joined`, `peer` {role, present}, `chat` {from, name, text, at},
                  `signal` {data}, `document` {id, name, kind}, `closed` {reason}, `waiting`,
                  `limited` {text} (a chat line refused: the page sent too many too fast)
The server relays signalling between the two pages and never looks inside it.
The status page's socket sends each notice (`notice`, `text`, `final`, `at`,
`room_url`) and, while the callback waits, `wait` {position, seconds, text}.

A message that is not a JSON object of UTF-8 text, or nests deeper than the
limit, closes the socket with 1007; one over the size limit with 1009; an
error of ours with 1011: always with a close frame and a reason, never a
dropped connection. A JSON object of a type we do not know, or with fields of
the wrong kind, is ignored.
"""

from __future__ import annotations

import json
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, cast

import tornado.ioloop
import tornado.log
import tornado.websocket

from ..flow import Notice, Role
from . import jsonin
from .base import AGENT_COOKIE
from .notices import TEXTS, TIMED, Told
from .rooms import Message, Room
from .views import spoken, wait_text, when

if TYPE_CHECKING:
    from .app import WebApp

BAD_DATA, TOO_BIG, SERVER_ERROR = 1007, 1009, 1011
WAIT_EVERY = 2.0                 # s between looks at a waiting callback's estimate
LIMITED = "You are sending messages too quickly: that one was not sent. Wait a moment."


class _StrictProtocol(tornado.websocket.WebSocketProtocol13):
    """Tornado's protocol, but a text frame that is not UTF-8 closes with 1007 and a reason
    (tornado would drop the connection without a close frame)."""

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode == 0x1 and not self.client_terminated \
                and not getattr(self, "_frame_compressed", False):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.close(BAD_DATA, "messages must be UTF-8 text")
                return None
        return super()._handle_message(opcode, data)


class Socket(tornado.websocket.WebSocketHandler):
    """A websocket of our pages: JSON objects out and in; bad input closes it with a code."""

    @property
    def app(self) -> "WebApp":
        """The application, typed as the `WebApp` it is."""
        return cast("WebApp", self.application)

    def get_websocket_protocol(self) -> Any:
        """Tornado's protocol, made strict about UTF-8 (see `_StrictProtocol`)."""
        protocol = super().get_websocket_protocol()
        if type(protocol) is tornado.websocket.WebSocketProtocol13:
            protocol.__class__ = _StrictProtocol
        return protocol

    def send(self, message: Message) -> None:
        """Send a message as JSON; nothing if the page has gone."""
        try:
            self.write_message(json.dumps(message))
        except tornado.websocket.WebSocketClosedError:
            pass                                  # the page has gone; its close handler cleans up

    def closing(self) -> bool:
        """Whether this socket is closed or closing (what it is sent now is dropped)."""
        return self.ws_connection is None or self.ws_connection.is_closing()

    def open(self, *args: str) -> None:
        """Start the page's socket (`start`); an error of ours closes it with 1011."""
        self.app.sockets.add(self)
        try:
            self.start(*args)
        except Exception:
            tornado.log.app_log.exception("websocket %s: error opening", type(self).__name__)
            self.close(SERVER_ERROR, "server error")

    def start(self, *args: Any, **kwargs: Any) -> None:
        """What a page's socket does when it opens."""

    def on_message(self, raw: str | bytes) -> None:
        """Take one message: closed with 1009 if too big, 1007 if not a JSON object of UTF-8
        text nested within the limit, 1011 on an error of ours; else `handle`."""
        if self.closing():
            return
        web = self.app.web
        if isinstance(raw, bytes):
            self.close(BAD_DATA, "messages must be JSON text, not binary")
            return
        try:
            message = jsonin.parse(raw, web.websocket_max_bytes, web.json_max_depth)
        except jsonin.JsonRefused as refused:
            self.close(TOO_BIG if refused.too_big else BAD_DATA, f"message {refused.message}")
            return
        if not isinstance(message, dict):
            self.close(BAD_DATA, "messages must be JSON objects")
            return
        try:
            self.handle(message)
        except Exception:
            tornado.log.app_log.exception("websocket %s: error handling a message",
                                          type(self).__name__)
            self.close(SERVER_ERROR, "server error")

    def handle(self, message: dict[str, Any]) -> None:
        """One well-formed message from the page."""


class StatusSocket(Socket):
    """The person's status page: every notice of their callback, as it happens."""

    _stop: Callable[[], None] | None = None
    _waits: tornado.ioloop.PeriodicCallback | None = None

    def start(self, callback_id: str, token: str) -> None:
        """Send every notice so far, then each new one; close at once for an unknown
        callback or a wrong token."""
        self.callback_id = callback_id
        if not self.app.status_token_valid(callback_id, token) \
                or self.app.switchboard.record(callback_id) is None:
            self.close(1000, "no such callback")   # nothing will ever come
            return
        for told in self.app.notices.history(callback_id):
            self.tell(callback_id, told)
        self._stop = self.app.notices.listen(callback_id, self.tell)
        self._said: tuple[int | None, int] | None = None
        self.tell_wait()
        self._waits = tornado.ioloop.PeriodicCallback(self.tell_wait, WAIT_EVERY * 1000)
        self._waits.start()

    def tell_wait(self) -> None:
        """Send the callback's place and estimated wait when they change (to the minute);
        an empty text once it no longer waits."""
        if self.closing():
            return
        wait = self.app.wait_of(self.callback_id)
        said = None if wait is None else (wait.position, round(wait.seconds / 60))
        if said == self._said:
            return
        self._said = said
        self.send({"type": "wait", "position": None if wait is None else wait.position,
                   "seconds": None if wait is None else round(wait.seconds),
                   "text": "" if wait is None else wait_text(wait.position, wait.seconds)})

    def tell(self, callback_id: str, told: Told) -> None:
        """Send one notice to the page, with the room link once the room is ready."""
        message: Message = {"notice": told.notice.value, "text": TEXTS[told.notice],
                            "final": told.final}
        if told.notice in TIMED:
            at = self.app.switchboard.next_call(callback_id)
            message["at"] = None if at is None else when(at, self.app.switchboard.calendar)
            message["text"] = message["text"].format(
                when="soon" if at is None else "on " + spoken(at, self.app.switchboard.calendar))
        if told.notice is Notice.ROOM_READY and told.room:
            room = self.app.rooms.rooms.get(told.room)
            if room is not None:
                message["room_url"] = f"/room/{room.person_token}"
        self.send(message)

    def on_close(self) -> None:
        """Stop listening for the callback's notices and stop telling its wait."""
        if self._stop is not None:
            self._stop()
        if self._waits is not None:
            self._waits.stop()


class RoomSocket(Socket):
    """A page in a room: relays its signalling and chat; `role` says whose page it is."""

    role: Role
    callback_id = ""

    def room(self) -> Room | None:
        """The callback's room, if this page is the one in it for its role."""
        room = self.app.rooms.of_callback(self.callback_id)
        return room if room is not None and room.peers.get(self.role) is self else None

    def handle(self, message: dict[str, Any]) -> None:
        """Take a chat line, or signalling for the other page; `other` gets the rest."""
        room = self.room()
        if room is None:
            return
        kind = message.get("type")
        if kind == "chat":
            self.chat(room, message.get("text"))
        elif kind == "signal" and isinstance(message.get("data"), dict):
            self.app.rooms.relay(room, self.role, {"type": "signal", "data": message["data"]})
        else:
            self.other(room, message)

    def chat(self, room: Room, text: object) -> None:
        """Send a chat line to both pages, cut to length and without control characters;
        past the page's allowance it is refused, and the page told so. Nothing in a room
        whose template has the chat off."""
        if not isinstance(text, str) or not room.look.chat:
            return
        web = self.app.web
        limit = web.chat_max_chars
        # Newlines stay; other control characters go. Pages show it as text, never as HTML.
        cleaned = "".join(ch for ch in text[:limit]
                          if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()
        if not cleaned:
            return
        if not self.app.rooms.may_chat(room, self.role, web.chat_rate, web.chat_burst):
            self.send({"type": "limited", "text": LIMITED})
            return
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

    def start(self, token: str) -> None:
        """Enter the link's room; told "closed" if it is gone or not open to the person."""
        room = self.app.rooms.by_person_token(token)
        if room is None:
            self.send({"type": "closed", "reason": "This room is closed."})
            self.close(1000, "room closed")
            return
        self.callback_id = room.callback_id
        if not self.app.rooms.enter(room, Role.PERSON, self):
            self.send({"type": "closed", "reason": "This room is not open to you."})
            self.close(1000, "room not open")

    def speaker(self, room: Room) -> str:
        """The person's name from the form, or "You"."""
        record = self.app.switchboard.record(room.callback_id)
        return (record.form.get("name") if record else None) or "You"


class AgentSocket(RoomSocket):
    """The agent's page in a room, reached by a ticket; it may push catalogue documents."""

    role = Role.AGENT

    def start(self, ticket: str) -> None:
        """Enter the ticket's room or wait for it; told "closed" for a dead ticket, no
        session, or another agent's ticket."""
        agent = self.app.signin.session_agent(self.get_cookie(AGENT_COOKIE))
        callback_id = self.app.tickets.callback(ticket, agent) if agent else None
        if callback_id is None:
            self.send({"type": "closed", "reason": "This call has ended."})
            self.close(1000, "call ended")
            return
        self.callback_id = callback_id
        room = self.app.rooms.of_callback(callback_id)
        if room is None or not self.app.rooms.enter(room, Role.AGENT, self, agent):
            self.app.rooms.wait(callback_id, self, agent)
            self.send({"type": "waiting"})

    def other(self, room: Room, message: dict[str, Any]) -> None:
        """Push into the room the catalogue document a `push` message names, if the room's
        template lets the agent push it."""
        if message.get("type") != "push" or not isinstance(message.get("name"), str) \
                or not room.look.allows(message["name"]):
            return
        record = self.app.switchboard.record(room.callback_id)
        service = record.service_code if record is not None else ""
        document = self.app.catalogue.load(message["name"], service)
        if document is not None:
            self.app.rooms.push(room, document, self.app.web.documents_per_room)
