"""`python -m emulator.cli`: the `callback-emu` command."""

import sys

from . import main

sys.exit(main())
