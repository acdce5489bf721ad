"""The hot modules compiled with mypyc, and the guard that keeps them honest.

`scripts/build_native.py` compiles the modules of `MODULES` into extension
modules beside their sources and writes `STAMP`: the SHA-256 of each source it
compiled. Python prefers an extension module to a source file of the same
name, so a compiled module would silently outlive an edit of its source; the
guard (`guard`, run by `reference_impl/__init__.py` before any of them is
imported) checks every source against the stamp and, if one differs, if the
interpreter is not the one that built them, or if `CALLBACK_EMU_PURE=1` is
set, loads every one of them from source. All or none: compiled modules of one
group reach each other's classes directly, so a mix would hold two classes of
one name.

A mutable dataclass in these modules writes its `__init__`: mypyc compiles the
methods a class writes, while those `dataclasses` generates stay interpreted
(`tests/test_native.py` checks each one against its fields).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / "reference_impl" / "native.json"
GROUP = "reference_impl._hot"          # the shared library every compiled module uses
PURE_VARIABLE = "CALLBACK_EMU_PURE"

# What a simulated callback runs through, event by event (`benchmarks/sim_speed.py
# --profile` shows the split). Left out: flow/_types.py (compiled enums lose their
# docstrings, which the scenario schema shows).
MODULES: tuple[str, ...] = (
    "reference_impl.frozen",             # the base of the compiled frozen classes
    "reference_impl.flow._state",
    "reference_impl.flow.events",
    "reference_impl.flow.commands",
    "reference_impl.flow.callback",
    "reference_impl.switchboard",
    "reference_impl.terminals",
    "reference_impl.codes",
    "reference_impl.records._record",
    "reference_impl.estimate",
    "emulator.models.pbx.sim",
    "emulator.models.people",
    "emulator.models.distributions",
    "emulator.models.clock",
    "emulator.models.streams",
    "emulator.drivers.clock",
    "emulator.drivers.simulation",
    "emulator.models.desks",
    "emulator.models.arrivals",
    "emulator.models.phonebook",
    "emulator.models.rooms.servers",
    "emulator.models.rooms.placement",
    "emulator.models.rooms.capacity",
    "emulator.models.rooms.waiting",
    "emulator.drivers.timers",
    "emulator.measure.collector",
    "emulator.measure.levels",
    "emulator.measure.series",
)


def source_of(module: str) -> Path:
    """The source file of one of `MODULES`."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def interpreter() -> str:
    """What a compiled module is bound to: the interpreter's cache tag and ABI suffix."""
    return f"{sys.implementation.cache_tag} {importlib.machinery.EXTENSION_SUFFIXES[0]}"


@dataclass(frozen=True, slots=True)
class Status:
    """Whether the hot modules run compiled, and if not, why not."""

    compiled: bool
    reason: str

    def __str__(self) -> str:
        return "compiled (mypyc)" if self.compiled else f"pure Python ({self.reason})"


def check(modules: Sequence[str] = MODULES, stamp_file: Path = STAMP) -> Status:
    """Whether compiled modules exist and match their sources and this interpreter."""
    if os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        return Status(False, f"{PURE_VARIABLE} is set")
    if not stamp_file.exists():
        return Status(False, "not built: scripts/build_native.py")
    try:
        stamp = json.loads(stamp_file.read_text())
        built, sources = stamp["interpreter"], dict(stamp["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        return Status(False, f"{stamp_file.name} is unreadable")
    if built != interpreter():
        return Status(False, f"built for {built}")
    if set(sources) != set(modules):
        return Status(False, "built from another list of modules")
    for module in modules:
        source = source_of(module)
        if not source.is_file():
            return Status(False, f"no source of {module}")
        if sources.get(module) != digest(source):
            return Status(False, f"{source.relative_to(ROOT)} changed since the build")
        if not extension_of(module):
            return Status(False, f"no compiled {module}")
    return Status(True, "")


def stamped() -> list[str]:
    """The modules the last build compiled, as its stamp lists them (none if unreadable)."""
    try:
        return [str(module) for module in json.loads(STAMP.read_text())["sources"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def extension_of(module: str) -> Path | None:
    """The compiled file of one of `MODULES` beside its source, if there is one."""
    source = source_of(module)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


class _SourceFirst:
    """A meta-path finder that loads the hot modules from their .py files."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        """A source spec for one of the hot modules; None (the usual search) otherwise."""
        if name not in self.modules or not source_of(name).is_file():
            return None
        source = str(source_of(name))
        return importlib.util.spec_from_file_location(
            name, source, loader=importlib.machinery.SourceFileLoader(name, source))


STATUS = Status(False, "the guard has not run")


def guard() -> Status:
    """Decide once, before any hot module is imported, whether they load compiled."""
    global STATUS
    if any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
        return STATUS
    STATUS = check()
    if not STATUS.compiled:
        sys.meta_path.insert(0, _SourceFirst((*MODULES, *stamped())))
    return STATUS

