"""Finding scenario files: the files named, and those under the folders named."""

from __future__ import annotations

import re
from pathlib import Path

_TOP_KEY = re.compile(rb"^(services|centres)\s*:", re.MULTILINE)


def scenario_files(paths: list[str]) -> list[Path]:
    """Files named, and the scenario files found under folders, in a stable order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.y*ml") if p.is_file())
        else:
            found.append(path)
    return found


def looks_like_scenario(path: Path) -> bool:
    """A YAML file that is meant as a scenario: it has top-level `services:` and `centres:`
    (read cheaply, without parsing: a broken scenario is still one, and is refused)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(1_000_000)
    except OSError:
        return False
    return {match.group(1) for match in _TOP_KEY.finditer(head)} == {b"services", b"centres"}
