"""The emulated PBX (simulated time); SIP phones for the real-time mode come later."""

from .sim import PhoneBook, SimPbx

__all__ = ["PhoneBook", "SimPbx"]
