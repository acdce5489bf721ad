"""Video-room servers, in simulated or real time."""

from .servers import RoomServers

__all__ = ["RoomServers"]
