"""Video-room servers in simulated time."""

from .sim import SimRooms

__all__ = ["SimRooms"]
