"""The `Rooms` port, for real: video rooms whose members are websockets.

The flow asks for a room (`create`), admits the person and the agent to it
(`join`) and deletes it when the phone call ends (`delete`). A member counts
as joined once the flow has admitted that role *and* its page is connected:
only then is `JoinedRoom(who)` reported. The server relays WebRTC signalling
between the two pages, and chat and documents to both; media never passes
through it (the agent's browser sends video straight to the person's).
Each room knows which agent joined it (the name they signed in with), and
holds each page's chat allowance (a token bucket).

A room looks as its template says (`look`: title, greeting, colours, logo, the
catalogue documents the agent may push, whether the chat is on): the template
is looked up by name when the room is created, so an edited template shows in
the next room. A name nobody defined, or a lookup that fails, gives the
default look: a room is never refused over how it looks.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .. import flow as f
from ..directory import TEMPLATE_NAME, RoomTemplate
from ..flow import Role
from ..ports import Deliver
from .limits import Bucket
from .settings import Document

Message = dict[str, Any]
Templates = Callable[[str], "RoomTemplate | None"]      # a template's name -> it, or None
_log = logging.getLogger("callback.rooms")


class Peer(Protocol):
    """A page in a room (its websocket)."""

    def send(self, message: Message) -> None:
        """Send a message to the page."""
    def close(self) -> None:
        """Close the page's socket."""


@dataclass(eq=False)
class Room:
    """One video room: its call, who the flow admitted, the pages in it, its documents."""

    name: str
    callback_id: str
    code: str
    template: str
    person_token: str                        # the person's link: unguessable
    admitted: set[Role] = field(default_factory=set)
    peers: dict[Role, Peer] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    open: bool = False
    agent: str | None = None                 # the signed-in agent whose page joined
    chat: dict[Role, Bucket] = field(default_factory=dict)   # each page's chat allowance
    look: RoomTemplate = field(default_factory=RoomTemplate)   # its template, when created

    def others(self, role: Role) -> list[Peer]:
        """The pages in the room other than `role`'s."""
        return [peer for who, peer in self.peers.items() if who is not role]


class RoomServer:
    """The `Rooms` port: rooms whose members are the person's and the agent's websockets."""

    def __init__(self, deliver: Deliver, later: Callable[[Callable[[], None]], None], *,
                 capacity: int = 10_000, routing: str = "web-1",
                 templates: Templates | None = None) -> None:
        self.deliver = deliver
        self.later = later                   # run soon, outside the caller's stack
        self.capacity = capacity
        self.routing = routing
        self.templates = templates           # None: every room looks the default
        self.rooms: dict[str, Room] = {}
        self._by_token: dict[str, Room] = {}
        self._by_callback: dict[str, Room] = {}
        self._waiting: dict[str, tuple[Peer, str | None]] = {}  # callback -> agent page, name

    # -- the Rooms port ------------------------------------------------------

    def create(self, callback_id: str, template: str, code: str) -> None:
        """Open a room, reported soon as `RoomCreated`; `RoomRefused` when the server is full."""
        if len(self.rooms) >= self.capacity:
            self.later(lambda: self.deliver(callback_id, f.RoomRefused(reason="room server full")))
            return
        room = Room(f"room-{secrets.token_hex(6)}", callback_id, code, template,
                    secrets.token_urlsafe(24), look=self.look(template))
        self.rooms[room.name] = room
        self._by_token[room.person_token] = room
        self._by_callback[callback_id] = room
        self.later(lambda: self._opened(room))

    def join(self, callback_id: str, room: str, who: Role) -> None:
        """Admit a role; `JoinedRoom` once its page is in (an agent page waiting enters)."""
        found = self.rooms.get(room)
        if found is None:
            return
        found.admitted.add(who)
        waiting = self._waiting.pop(callback_id, None) if who is Role.AGENT else None
        if waiting is not None:
            self.enter(found, Role.AGENT, waiting[0], waiting[1])
        elif who in found.peers:
            self.deliver(callback_id, f.JoinedRoom(who=who))

    def delete(self, room: str) -> None:
        """Close a room and tell the pages in it; nothing for a room already gone."""
        found = self.rooms.pop(room, None)
        if found is None:
            return
        self._by_token.pop(found.person_token, None)
        self._by_callback.pop(found.callback_id, None)
        for peer in list(found.peers.values()):
            peer.send({"type": "closed", "reason": "The call has ended: the room is closed."})
            peer.close()
        found.peers.clear()

    # -- looks ---------------------------------------------------------------

    def look(self, template: str) -> RoomTemplate:
        """How rooms of `template` look now: its definition, else the default look."""
        found = None
        if self.templates is not None:
            try:
                found = self.templates(template)
            except Exception:                    # a database that fails: the default look
                _log.warning("room template %r could not be read; the default look is used",
                             template, exc_info=True)
        if found is not None:
            return found
        return RoomTemplate(name=template) if TEMPLATE_NAME.match(template) else RoomTemplate()

    def look_for(self, room: Room | None, template: str) -> RoomTemplate:
        """A room's look, or (no room yet, or none) how a room of `template` would look."""
        return room.look if room is not None else self.look(template)

    # -- pages ---------------------------------------------------------------

    def by_person_token(self, token: str) -> Room | None:
        """The room a person's link opens, if it is still open."""
        return self._by_token.get(token)

    def of_callback(self, callback_id: str) -> Room | None:
        """The room of a callback, if it has one."""
        return self._by_callback.get(callback_id)

    def enter(self, room: Room, who: Role, peer: Peer, agent: str | None = None) -> bool:
        """A page connects (the agent's with the name it signed in with); False if the
        flow has not admitted that role."""
        if who not in room.admitted or room.name not in self.rooms:
            return False
        old = room.peers.get(who)
        room.peers[who] = peer
        if who is Role.AGENT:
            room.agent = agent
        if old is not None and old is not peer:
            old.send({"type": "closed", "reason": "This room was opened in another window."})
            old.close()
        peer.send({"type": "joined", "role": who.value,
                   "present": [r.value for r in room.peers],
                   "documents": [_shown(room, d) for d in room.documents.values()]})
        for other in room.others(who):
            other.send({"type": "peer", "role": who.value, "present": True})
        self.deliver(room.callback_id, f.JoinedRoom(who=who))
        return True

    def wait(self, callback_id: str, peer: Peer, agent: str | None = None) -> None:
        """An agent page whose code was accepted, waiting for the flow to admit it."""
        self._waiting[callback_id] = (peer, agent)

    def leave(self, room: Room | None, who: Role, peer: Peer, callback_id: str = "") -> None:
        """A page has gone: forget it, and tell the other page its peer left."""
        waiting = self._waiting.get(callback_id)
        if waiting is not None and waiting[0] is peer:
            del self._waiting[callback_id]
        if room is None or room.peers.get(who) is not peer:
            return
        del room.peers[who]
        for other in room.others(who):
            other.send({"type": "peer", "role": who.value, "present": False})

    def call_ended(self, callback_id: str) -> None:
        """The callback is over: an agent page still waiting for its room is told."""
        waiting = self._waiting.pop(callback_id, None)
        if waiting is not None:
            waiting[0].send({"type": "closed", "reason": "The call has ended."})
            waiting[0].close()

    def relay(self, room: Room, sender: Role, message: Message) -> None:
        """Pass a message on to the other page of the room (signalling)."""
        for other in room.others(sender):
            other.send(message)

    def may_chat(self, room: Room, who: Role, rate: float | None, burst: int) -> bool:
        """Whether `who`'s page may send a chat line now (its allowance spent if so)."""
        if rate is None:
            return True
        bucket = room.chat.get(who)
        if bucket is None:
            bucket = room.chat[who] = Bucket(rate, burst)
        return bucket.take()

    def broadcast(self, room: Room, message: Message) -> None:
        """Send a message to every page in the room."""
        for peer in list(room.peers.values()):
            peer.send(message)

    def push(self, room: Room, document: Document, limit: int) -> bool:
        """Share a document with both pages; False when the room holds too many."""
        if len(room.documents) >= limit:
            return False
        room.documents[document.id] = document
        self.broadcast(room, _shown(room, document))
        return True

    # -- internals -----------------------------------------------------------

    def _opened(self, room: Room) -> None:
        if self.rooms.get(room.name) is not room:
            return                               # deleted before it opened
        room.open = True
        self.deliver(room.callback_id, f.RoomCreated(room=room.name, routing=self.routing))


def _shown(room: Room, document: Document) -> Message:
    """A document as the pages are told of it; each page builds its own link."""
    return {"type": "document", "id": document.id, "name": document.name,
            "kind": "image" if document.is_image else "file",
            "content_type": document.content_type}
