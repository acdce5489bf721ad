"""benchmarks/sim_scale.py runs and writes its curves (its figures are the README's business:
nothing here is timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_curves_cover_both_axes(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, "benchmarks/sim_scale.py", "--quick", "--json",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    found = json.loads(out.read_text())
    assert [p["desks"] for p in found["desk_phones"]] == [50, 500, 5000]
    assert [p["at_once"] for p in found["calls_at_once"]] == [10, 100, 1000]
    assert [p["at_once"] for p in found["bare_simpy_calls_at_once"]] == [10, 100, 1000]
    for points in (found["desk_phones"], found["calls_at_once"], found["bare_simpy_calls_at_once"]):
        assert points[0]["vs_first"] == 1.0
        assert all(p["callbacks"] >= 1900 and p["us_per_callback"] > 0 for p in points)
    assert "goal: every point within 20% of the first" in done.stdout
    assert "reference: a bare SimPy model" in done.stdout and "over SimPy's" in done.stdout
