"""The layers of the emulator import only downwards (the README's map of the code).

models never import scenario, drivers, studies or cli; measure never imports
studies, cli, drivers or scenario; scenario never imports drivers, studies or
cli; only `scenario` knows YAML and pydantic; one `Deliver`; one wiring.
Imports are read from the source (relative ones resolved), lazy ones included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = ROOT / "emulator"

FORBIDDEN = {
    "models": {"scenario", "drivers", "studies", "cli"},
    "measure": {"scenario", "drivers", "studies", "cli", "models"},
    "scenario": {"drivers", "studies", "cli"},
    "drivers": {"studies", "cli"},
    "studies": {"cli"},
}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, as an absolute dotted name."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def layer_files(layer: str) -> list[Path]:
    return sorted((EMULATOR / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_downwards(layer: str) -> None:
    assert layer_files(layer), f"no emulator/{layer}/"
    for path in layer_files(layer):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "emulator" and len(parts) > 1:
                assert parts[1] not in FORBIDDEN[layer], f"{path.relative_to(ROOT)} imports {name}"


def test_only_the_scenario_package_knows_yaml_and_pydantic() -> None:
    for path in sorted(EMULATOR.rglob("*.py")):
        if (EMULATOR / "scenario") in path.parents:
            continue
        roots = {name.split(".")[0] for name in imports(path)}
        assert not roots & {"yaml", "pydantic"}, f"{path.relative_to(ROOT)} imports YAML or pydantic"


def test_deliver_is_defined_once_and_the_switchboard_is_built_in_one_place() -> None:
    deliver, built = [], []
    for path in sorted([*EMULATOR.rglob("*.py"), *(ROOT / "reference_impl").rglob("*.py"),
                        *(ROOT / "benchmarks").glob("*.py")]):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "Deliver" for t in node.targets):
                deliver.append(path.relative_to(ROOT))
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "Switchboard"):
                built.append(path.relative_to(ROOT))
    assert deliver == [Path("reference_impl/ports.py")]
    assert built == [Path("reference_impl/wiring.py")]
