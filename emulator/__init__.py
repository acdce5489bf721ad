"""The SimPy emulator of the PBX, rooms and people, and the `callback-emu` command."""
