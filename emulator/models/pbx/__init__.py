"""The emulated PBX (either clock), and SIPp phones for the real SIP PBX (`sipp.py`)."""

from .sim import PbxSetup, PhoneBook, SimPbx

__all__ = ["PbxSetup", "PhoneBook", "SimPbx"]
