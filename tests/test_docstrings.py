"""Every public module, class and function of reference_impl and emulator says what it is
for, in a docstring (as SimPy's do): a newcomer reads the house without opening bodies.

Public: a name not starting with `_`, at module level or in a public class. A test
of the checker itself keeps it honest.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reference_impl", "emulator")


def undocumented(path: Path) -> list[str]:
    """The public names of a module that have no docstring ("module" for the module)."""
    tree = ast.parse(path.read_text())
    missing = [] if ast.get_docstring(tree) else ["module"]

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.name.startswith("_"):
                    continue
                if not ast.get_docstring(child):
                    missing.append(f"{child.lineno}: {prefix}{child.name}")
                if isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}{child.name}.")

    walk(tree, "")
    return missing


def test_the_checker_finds_what_is_missing(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""A module."""\n\ndef told():\n    """Told."""\n\n\ndef untold():\n'
                      '    pass\n\n\nclass Thing:\n    """A thing."""\n\n    def bare(self):\n'
                      '        pass\n\n    def _private(self):\n        pass\n')
    assert undocumented(sample) == ["7: untold", "14: Thing.bare"]


def test_every_public_name_has_a_docstring() -> None:
    missing = [f"{path.relative_to(ROOT)}:{name}" for package in PACKAGES
               for path in sorted((ROOT / package).rglob("*.py")) for name in undocumented(path)]
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing[:40])
