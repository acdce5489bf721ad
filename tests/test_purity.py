"""The call flow stays pure: it imports nothing that does IO and nothing of the project."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FLOW = Path(__file__).resolve().parents[1] / "reference_impl" / "flow"
FORBIDDEN = {"simpy", "tornado", "asyncio", "socket", "time", "sqlite3", "threading",
             "sippy", "subprocess", "emulator", "reference_impl", "os", "select", "io"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_flow_imports_no_io_and_nothing_of_the_project() -> None:
    files = sorted(FLOW.glob("*.py"))
    assert files
    for path in files:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_reference_impl_never_imports_the_emulator() -> None:
    for path in sorted(FLOW.parent.rglob("*.py")):
        assert "emulator" not in imported_modules(path), path


def test_flow_passes_mypy_strict() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(FLOW)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
