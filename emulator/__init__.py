"""The SimPy emulator of the PBX, rooms and people, and the `callback-emu` command."""

import reference_impl as _system  # noqa: F401  (its guard decides how the hot modules load)
