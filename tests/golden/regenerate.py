"""Write the golden outputs that tests/test_golden.py compares byte for byte
(the run of every shipped scenario, tens of MB, by its SHA-256).

Run from the repository's root, only when a change is meant to move seeded
results (say why in the commit): `python tests/golden/regenerate.py`.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# (golden file, the command's arguments); "{out}" is where the command writes.
RUNS: list[tuple[str, list[str]]] = [
    ("run_qa.json", ["run", "scenarios/qa", "scenarios/repro", "scenarios/serve",
                     "--json", "{out}"]),
    ("run_scenarios.json", ["run", "scenarios", "--json", "{out}"]),
    ("load_network_one_way.json", ["load", "scenarios/qa/network_upload_one_way.yaml",
                                   "--replications", "2", "--json", "{out}"]),
    ("load_weekday.csv", ["load", "scenarios/capacity/weekday_three_centres.yaml",
                          "--replications", "2", "--csv", "{out}"]),
]
# (golden file, the command's arguments): what it prints is the output.
TRACES: list[tuple[str, list[str]]] = [
    ("trace_failover.txt", ["trace", "scenarios/qa/failover_second_centre.yaml", "--call", "1"]),
    ("trace_queue.txt", ["trace", "scenarios/qa/no_free_terminal_failover.yaml", "--call", "2"]),
    ("trace_room_refused.txt", ["trace", "scenarios/qa/room_refused_server_full.yaml",
                                "--call", "2"]),
]


# Outputs kept as their SHA-256 only: every call of the capacity studies is tens of MB.
HASHED = {"run_scenarios.json"}


def digest(data: bytes) -> str:
    """The SHA-256 of an output, as its golden file holds it."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


def produce(folder: Path) -> dict[str, bytes]:
    """Every golden output, produced now by the command line in this process."""
    from emulator.cli import main

    out: dict[str, bytes] = {}
    for name, args in RUNS:
        target = folder / name
        with contextlib.redirect_stdout(io.StringIO()):
            main([a.replace("{out}", str(target)) for a in args])
        out[name] = target.read_bytes()
    for name, args in TRACES:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            main(args)
        out[name] = printed.getvalue().encode()
    return out


if __name__ == "__main__":
    import os
    import tempfile

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in produce(Path(tmp)).items():
            if name in HASHED:
                name, data = f"{name}.sha256", (digest(data) + "\n").encode()
            (HERE / name).write_bytes(data)
            print(f"wrote tests/golden/{name} ({len(data)} bytes)")
