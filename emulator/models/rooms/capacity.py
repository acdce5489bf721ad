"""What a room server holds and what one room takes from it.

A server is limited in rooms, and optionally in egress (the video it sends
out, bit/s) and in a CPU budget (abstract units: `cpu: 16` and
`cpu_per_room: 0.1` hold 160 rooms). A room reserves its share of each from
the moment it is placed until the server has torn it down. CPU is counted in
whole micro-units so that 160 rooms of 0.1 fill 16 exactly (float sums drift).
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl import frozen

_MICRO = 1_000_000
TWO_WAY_FACTOR = 2           # a two-way room forwards video both ways: twice the egress and CPU


def micro(units: float) -> int:
    """CPU units in whole micro-units, so that sums of rooms do not drift."""
    return round(units * _MICRO)


@dataclass(frozen=True)
class Demand(frozen.Pickled):
    """What one room reserves on its server."""

    egress: int = 0          # bit/s
    cpu: int = 0             # micro-units

    def scaled(self, factor: int) -> "Demand":
        """The demand `factor` times over (a two-way room's: `TWO_WAY_FACTOR`)."""
        return Demand(egress=self.egress * factor, cpu=self.cpu * factor)


@dataclass(frozen=True)
class Limits(frozen.Pickled):
    """What one server holds; None: not a limit."""

    rooms: int
    egress: int | None = None    # bit/s
    cpu: int | None = None       # micro-units

    def holds(self, demand: Demand) -> bool:
        """An empty server can take such a room (else it would wait forever)."""
        return (self.rooms >= 1 and (self.egress is None or demand.egress <= self.egress)
                and (self.cpu is None or demand.cpu <= self.cpu))


class Server:
    """One room server's reservations against its limits."""

    __slots__ = ("index", "limits", "rooms", "egress", "cpu")

    def __init__(self, index: int, limits: Limits) -> None:
        self.index = index
        self.limits = limits
        self.rooms = 0
        self.egress = 0
        self.cpu = 0

    def fits(self, demand: Demand) -> bool:
        """Whether the room fits beside what the server holds: rooms, egress and CPU."""
        limits = self.limits
        return (self.rooms < limits.rooms
                and (limits.egress is None or self.egress + demand.egress <= limits.egress)
                and (limits.cpu is None or self.cpu + demand.cpu <= limits.cpu))

    def take(self, demand: Demand) -> None:
        """Reserve a room's share: it has been placed here."""
        self.rooms += 1
        self.egress += demand.egress
        self.cpu += demand.cpu

    def give(self, demand: Demand) -> None:
        """Free a room's share: the server has torn it down."""
        self.rooms -= 1
        self.egress -= demand.egress
        self.cpu -= demand.cpu

    @property
    def load(self) -> float:
        """The fullest of its limits, as a fraction: what "least loaded" compares."""
        limits = self.limits
        used = [self.rooms / limits.rooms]
        if limits.egress:
            used.append(self.egress / limits.egress)
        if limits.cpu:
            used.append(self.cpu / limits.cpu)
        return max(used)
