"""Video-room servers, in simulated or real time.

`servers.py` is the Rooms port (create, join, delete) and the policy when
full; `capacity.py` what a server holds and a room takes; `placement.py`
which server takes a room; `waiting.py` the queue of requests under
`when_full: queue`.
"""

from .capacity import TWO_WAY_FACTOR, Demand, Limits
from .placement import PLACEMENTS
from .servers import POLICIES, RoomServers, RoomsSetup

__all__ = ["RoomServers", "RoomsSetup", "Demand", "Limits", "PLACEMENTS", "POLICIES", "TWO_WAY_FACTOR"]
