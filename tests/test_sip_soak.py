"""The soak's short run: real SIP through `serve`'s runtime loses and leaks nothing.

benchmarks/soak.py for 12 s at 20 callbacks/s (its full run is 10 minutes at
50/s, figures in the README): `serve`'s runtime on write-behind SQLite
records and the sippy PBX, calling SIPp phones, with the soak's mix of
people who answer, are busy, decline, never answer or have a wrong number.
Checked once every call is over: each acknowledged callback has an ended
record with an outcome, nothing is refused, and nothing is still held (live
callbacks, legs, codes, desk phones, rooms, timers, stored SIP dialogs,
calls up on the phones). Nothing here is timed: memory and set-up times are
the full run's business.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.models.pbx.sipp import sipp_path

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found: install Debian's sip-tester (make test does it as root)")


def test_a_short_soak_loses_nothing_and_leaks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/soak.py", "--minutes", "0.2", "--rate", "20",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.exists(), done.stdout + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["acknowledged"] == result["callbacks_offered"] == 240
    assert result["refused"] == {}
    assert result["lost"] == {"no_record": 0, "not_ended": 0}
    assert result["leaked"] == {"live_callbacks": 0, "legs": 0, "codes": 0, "terminals": 0,
                                "rooms": 0, "timers": 0, "dialogs_stored": 0,
                                "calls_up_on_phones": 0}
    outcomes = result["outcomes"]
    assert sum(outcomes.values()) == 240 and outcomes.get("connected", 0) > 150, outcomes
    assert result["sipp"]["failed"] == 0
    assert done.returncode == 0, done.stdout[-3000:]
