"""Room servers: create, join and delete take a while (simulated or real time).

A room is placed (see `placement.py`) on a server it fits on: each server
holds so many rooms, and optionally so much egress and CPU (`capacity.py`);
a two-way room reserves twice a one-way room's egress and CPU (it forwards
video both ways). When no server has room, the policy decides:

- `reject` (the default): the room is refused and the call goes on, audio only;
- `queue`: the request waits, first come first served, until a room is torn
  down somewhere (`waiting.py`); a request whose call ended meanwhile is
  dropped; with `max_wait`, one that waited that long is refused.

A room's reservation lasts from its placement until the server has torn it
down (`delete_delay` after the flow's DeleteRoom).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection

from reference_impl import flow as f
from reference_impl import frozen
from reference_impl.flow import Role
from reference_impl.ports import Deliver

from ...measure.levels import Level
from ...measure.series import Series
from ..clock import Clock
from ..distributions import Distribution, Fixed, Rng
from .capacity import TWO_WAY_FACTOR, Demand, Limits, Server, micro
from .placement import placement as placement_rule
from .waiting import Request, Waiting

POLICIES = ("reject", "queue")


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomsSetup(frozen.Pickled):
    """The room servers a scenario asks for (`rooms:`), as plain values."""

    servers: int = 1
    rooms_per_server: int = 200
    egress: float | None = None            # bit/s per server; None: no limit
    egress_per_room: float = 1.2e6         # the video a one-way room sends out
    cpu: float | None = None               # units per server; None: no limit
    cpu_per_room: float = 0.1
    two_way: bool | Collection[str] = False   # every room, or these templates: twice both
    when_full: str = "reject"
    max_wait: float | None = None          # with "queue": refused after waiting this long
    placement: str = "least_loaded"
    create_delay: Distribution = Fixed(0.2)
    join_delay: Distribution = Fixed(0.5)
    delete_delay: Distribution = Fixed(0.1)


@dataclass(eq=False)
class Room:
    """A room a server holds, from its placement until it is torn down."""

    name: str
    server: int
    callback_id: str
    template: str
    open: bool = False
    demand: Demand = Demand()

    def __init__(self, name: str, server: int, callback_id: str, template: str,
                 open: bool = False, demand: Demand = Demand()) -> None:
        self.name = name
        self.server = server
        self.callback_id = callback_id
        self.template = template
        self.open = open
        self.demand = demand


class RoomServers:
    """The room servers behind the flow's Rooms port: rooms placed, created, joined, deleted."""

    def __init__(self, clock: Clock, *, servers: int, rooms_per_server: int,
                 create_delay: Distribution, join_delay: Distribution,
                 delete_delay: Distribution, rng: Rng, deliver: Deliver,
                 level: Level | None = None, egress: float | None = None,
                 cpu: float | None = None, per_room: tuple[float, float] = (0.0, 0.0),
                 two_way: bool | Collection[str] = False, when_full: str = "reject",
                 max_wait: float | None = None, placement: str = "least_loaded",
                 egress_level: Level | None = None, waits: Series | None = None,
                 warmup: float = 0.0) -> None:
        """`egress` (bit/s) and `cpu` are per server (None: no limit); `per_room` is
        one one-way room's (egress bit/s, CPU units); `two_way` is True for every
        room or the room templates that carry video both ways."""
        if when_full not in POLICIES:
            raise ValueError(f"unknown policy {when_full!r} (one of {', '.join(POLICIES)})")
        self.clock = clock
        limits = Limits(rooms_per_server, None if egress is None else round(egress),
                        None if cpu is None else micro(cpu))
        self.servers = [Server(i, limits) for i in range(servers)]
        self.capacity = rooms_per_server
        self.create_delay, self.join_delay, self.delete_delay = create_delay, join_delay, delete_delay
        self.rng = rng
        self.deliver = deliver
        self.level = level or Level()                  # rooms open at once
        self.egress_level = egress_level or Level()    # egress reserved on all servers, bit/s
        self.waits = waits if waits is not None else Series()   # request -> a server took it
        self.warmup = warmup                           # waits of earlier requests are not counted
        self.one_way = Demand(egress=round(per_room[0]), cpu=micro(per_room[1]))
        self._two_way = two_way
        self.when_full, self.max_wait = when_full, max_wait
        self._place = placement_rule(placement)
        self.rooms: dict[str, Room] = {}
        self.waiting = Waiting()
        self.refused = 0
        self._next = 0

    @classmethod
    def from_setup(cls, spec: RoomsSetup, clock: Clock, *, rng: Rng, deliver: Deliver,
                   level: Level | None = None, egress_level: Level | None = None,
                   waits: Series | None = None, warmup: float = 0.0,
                   every_room_two_way: bool = False) -> "RoomServers":
        """The room servers `spec` describes (`every_room_two_way`: the network
        model's video is two-way, whatever `spec.two_way` says)."""
        return cls(clock, servers=spec.servers, rooms_per_server=spec.rooms_per_server,
                   create_delay=spec.create_delay, join_delay=spec.join_delay,
                   delete_delay=spec.delete_delay, rng=rng, deliver=deliver, level=level,
                   egress=spec.egress, cpu=spec.cpu,
                   per_room=(spec.egress_per_room, spec.cpu_per_room),
                   two_way=True if every_room_two_way else spec.two_way,
                   when_full=spec.when_full, max_wait=spec.max_wait, placement=spec.placement,
                   egress_level=egress_level, waits=waits, warmup=warmup)

    @property
    def load(self) -> list[int]:
        """Rooms held on each server (placed and not yet torn down)."""
        return [server.rooms for server in self.servers]

    def demand(self, template: str) -> Demand:
        """What a room of that template reserves: twice a one-way room's if it is two-way."""
        two_way = self._two_way if isinstance(self._two_way, bool) else template in self._two_way
        return self.one_way.scaled(TWO_WAY_FACTOR) if two_way else self.one_way

    # -- the Rooms port ------------------------------------------------------

    def create(self, callback_id: str, template: str, code: str) -> None:
        """Place and create the call's room; when every server is full, refuse it or queue it
        behind those waiting (who are served first even if it would fit)."""
        request = Request(callback_id, template, self.demand(template), self.clock.now())
        if not self.waiting and self._open(request):
            return
        if self.when_full == "reject":
            self._refuse(request, "every room server is full", self.create_delay.sample(self.rng))
            return
        self.waiting.push(request)                 # behind anyone already waiting: FIFO
        if self.max_wait is not None:
            self.clock.later(self.max_wait, self._gave_up, request)

    def join(self, callback_id: str, room: str, who: Role) -> None:
        """`who` is in the room after `join_delay`, unless the room was deleted meanwhile."""
        self.clock.later(self.join_delay.sample(self.rng), self._joined, callback_id, room, who)

    def _joined(self, callback_id: str, room: str, who: Role) -> None:
        if room in self.rooms:                     # deleted meanwhile: nobody joins
            self.deliver(callback_id, f.JoinedRoom(who=who))

    def delete(self, room: str) -> None:
        """The room closes now; its server frees the room's share after `delete_delay`."""
        found = self.rooms.pop(room, None)
        if found is None:
            return
        if found.open:
            self.level.change(self.clock.now(), -1)
        # The reservation holds until the server has torn the room down.
        self.clock.later(self.delete_delay.sample(self.rng), self._free, found)

    def call_ended(self, callback_id: str) -> None:
        """A call ended: its room request, if still waiting, is dropped."""
        request = self.waiting.remove(callback_id)
        if request is not None:
            self._waited(request)

    # -- internals -----------------------------------------------------------

    def _open(self, request: Request) -> bool:
        """Place the room and have it created; False if no server has room for it."""
        server = self._place(self.servers, request.demand)
        if server is None:
            return False
        server.take(request.demand)
        self.egress_level.change(self.clock.now(), request.demand.egress)
        self._waited(request)
        self._next += 1
        room = Room(f"room-{self._next}", server.index, request.callback_id, request.template,
                    demand=request.demand)
        self.rooms[room.name] = room
        self.clock.later(self.create_delay.sample(self.rng), self._opened, room)
        return True

    def _opened(self, room: Room) -> None:
        if self.rooms.get(room.name) is not room:
            return
        room.open = True
        self.level.change(self.clock.now(), +1)
        self.deliver(room.callback_id, f.RoomCreated(room=room.name,
                                                     routing=f"server-{room.server + 1}"))

    def _free(self, room: Room) -> None:
        self.servers[room.server].give(room.demand)
        self.egress_level.change(self.clock.now(), -room.demand.egress)
        self._serve_waiting()

    def _serve_waiting(self) -> None:
        # Strict FIFO: while the head does not fit, nobody behind it is served.
        while (head := self.waiting.head()) is not None and self._open(head):
            self.waiting.pop_head()

    def _gave_up(self, request: Request) -> None:
        if not self.waiting.holds(request):        # served or dropped meanwhile
            return
        self.waiting.remove(request.callback_id)
        self._waited(request)
        self._refuse(request, "no room server freed up in time", 0.0)

    def _refuse(self, request: Request, reason: str, delay: float) -> None:
        self.refused += 1
        event = f.RoomRefused(reason=reason)
        self.clock.later(delay, self.deliver, request.callback_id, event)

    def _waited(self, request: Request) -> None:
        if request.since >= self.warmup:
            self.waits.add(self.clock.now() - request.since)
