"""Finding scenario files: the files named, and those under the folders named."""

from __future__ import annotations

from pathlib import Path


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
