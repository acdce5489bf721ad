"""Every scenario the project ships holds what it claims, in simulated time.

The QA suite, the capacity studies (their expectations are the answers their
comments give), the bug replays and serve's default: one `callback-emu run`
over the whole folder, about ten seconds. The QA suite over real SIP is
tests/test_sip_mode.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_scenario_passes_in_simulation(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "run", "scenarios",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(out.read_text())["scenarios"]
    folders = {Path(run["file"]).parent.name for run in runs}
    assert {"qa", "capacity", "repro", "serve"} <= folders
    assert len([run for run in runs if "capacity" in run["file"]]) >= 8
    assert all(run["status"] == "pass" for run in runs), [r["file"] for r in runs if r["status"] != "pass"]
