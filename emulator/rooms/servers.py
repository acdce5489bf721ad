"""Room servers: create, join and delete take a while (simulated or real time).

A room is placed on the least loaded server with a free slot when it is
asked for; with none free it is refused and the call goes on, audio only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from reference_impl import flow as f
from reference_impl.flow import Role

from ..behaviour import Distribution, Rng
from ..clock import Clock
from ..metrics import Level

Deliver = Callable[[str, f.Event], None]


@dataclass(eq=False)
class Room:
    name: str
    server: int
    callback_id: str
    template: str
    open: bool = False


class RoomServers:
    def __init__(self, clock: Clock, *, servers: int, rooms_per_server: int,
                 create_delay: Distribution, join_delay: Distribution,
                 delete_delay: Distribution, rng: Rng, deliver: Deliver,
                 level: Level | None = None) -> None:
        self.clock = clock
        self.capacity = rooms_per_server
        self.load = [0] * servers
        self.create_delay, self.join_delay, self.delete_delay = create_delay, join_delay, delete_delay
        self.rng = rng
        self.deliver = deliver
        self.level = level or Level()          # rooms open at once
        self.rooms: dict[str, Room] = {}
        self.refused = 0
        self._next = 0

    # -- the Rooms port ------------------------------------------------------

    def create(self, callback_id: str, template: str, code: str) -> None:
        server = min(range(len(self.load)), key=self.load.__getitem__)
        delay = self.create_delay.sample(self.rng)
        if self.load[server] >= self.capacity:
            self.refused += 1
            self._later(delay, callback_id, f.RoomRefused(reason="every room server is full"))
            return
        self.load[server] += 1
        self._next += 1
        room = Room(f"room-{self._next}", server, callback_id, template)
        self.rooms[room.name] = room
        self.clock.later(delay, lambda: self._opened(room))

    def join(self, callback_id: str, room: str, who: Role) -> None:
        def joined() -> None:
            if room in self.rooms:                 # deleted meanwhile: nobody joins
                self.deliver(callback_id, f.JoinedRoom(who=who))
        self.clock.later(self.join_delay.sample(self.rng), joined)

    def delete(self, room: str) -> None:
        found = self.rooms.pop(room, None)
        if found is None:
            return
        if found.open:
            self.level.change(self.clock.now(), -1)
        server = found.server
        # The slot is free once the server has torn the room down.
        self.clock.later(self.delete_delay.sample(self.rng), lambda: self._free(server))

    # -- internals -----------------------------------------------------------

    def _opened(self, room: Room) -> None:
        if self.rooms.get(room.name) is not room:
            return
        room.open = True
        self.level.change(self.clock.now(), +1)
        self.deliver(room.callback_id, f.RoomCreated(room=room.name,
                                                     routing=f"server-{room.server + 1}"))

    def _free(self, server: int) -> None:
        self.load[server] -= 1

    def _later(self, delay: float, callback_id: str, event: f.Event) -> None:
        self.clock.later(delay, lambda: self.deliver(callback_id, event))
