"""What reference_impl/telephony/_sippy_fixes.py patches in sippy is still what it was
written against, and the speed-ups answer as sippy's own code did.

Each fix replaces or wraps a sippy function: its source as sippy 2.5.0 has
it is fingerprinted in `TARGETS` (a SHA-256), and so are the lines of the
modules whose ``'my' in dir(x)`` gets a faster `dir` (`DIR_MODULES`). An
upgrade of sippy that touches any of them fails here, naming it: the fix
is then looked at again (and its digest updated), never carried over blind.
The sources are read from sippy's files (what the patches replaced is no
longer in memory). The speed-ups are then checked against the behaviour
they replace: the ctypes clock (a fresh copy of sippy's module) and `dir`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import pkgutil
import re
import time
from pathlib import Path

import pytest

from reference_impl.telephony import _sippy_fixes as fixes
from reference_impl.telephony import reactor


@pytest.fixture(autouse=True)
def sippy_reactor() -> None:
    """sippy is imported by its reactor's thread first (its event loop binds to it)."""
    reactor()


def module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, f"sippy has no module {module}"
    return Path(spec.origin)


def source_of(target: str) -> str:
    """The source of "module:Qualified.name" as sippy's file has it."""
    module, _, qualified = target.partition(":")
    text = module_path(module).read_text(encoding="utf-8")
    node: ast.AST = ast.parse(text)
    for part in qualified.split("."):
        found = [n for n in ast.iter_child_nodes(node)
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part]
        assert found, f"sippy's {module} has no {qualified} any more"
        node = found[0]
    segment = ast.get_source_segment(text, node)
    assert segment is not None
    return segment


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def dir_lines(module: str) -> list[str]:
    return [line.strip() for line in module_path(module).read_text(encoding="utf-8").splitlines()
            if "dir(" in line]


@pytest.mark.parametrize("target", sorted(fixes.TARGETS))
def test_what_a_fix_replaces_is_unchanged(target: str) -> None:
    assert digest(source_of(target)) == fixes.TARGETS[target], (
        f"sippy's {target} is not the one _sippy_fixes.py was written for: check the fix "
        f"against the new source, then update its digest in TARGETS")


@pytest.mark.parametrize("module", sorted(fixes.DIR_MODULES))
def test_the_modules_given_a_fast_dir_use_it_only_to_look_for_my(module: str) -> None:
    lines = dir_lines(module)
    assert lines and all(re.search(r"""['"]my['"] (not )?in dir\(""", line) for line in lines), (
        f"{module} uses dir() for something else than 'my' in dir(x): {lines}")
    assert digest("\n".join(lines)) == fixes.DIR_MODULES[module], (
        f"{module}'s uses of dir() changed: check them, then update DIR_MODULES")


def test_every_module_that_imports_the_clock_by_name_gets_the_fast_one() -> None:
    import sippy

    importers: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(sippy.__path__, "sippy."):
        text = module_path(info.name).read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"from sippy\.Time\.clock_dtime import ([^\n]+)", text):
            names = {n.strip() for n in match.group(1).split(",")}
            importers[info.name] = {n for n in names if n.startswith("clock_get")}
    assert importers == {m: set(n) for m, n in fixes.CLOCK_IMPORTERS.items()}


def test_the_fast_clock_is_in_place_and_reads_the_same_clock_as_ctypes() -> None:
    from sippy.Time import MonoTime as mono_module
    from sippy.Time import clock_dtime

    assert clock_dtime.clock_getdtime is time.clock_gettime
    assert mono_module.clock_getdtime is time.clock_gettime
    # sippy's own module, loaded afresh: its ctypes functions, unpatched
    spec = importlib.util.spec_from_file_location("sippy_clock_original",
                                                  module_path("sippy.Time.clock_dtime"))
    assert spec is not None and spec.loader is not None
    original = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original)
    for kind in (original.CLOCK_REALTIME, original.CLOCK_MONOTONIC):
        before = original.clock_getdtime(kind)
        fast = clock_dtime.clock_getdtime(kind)
        after = original.clock_getdtime(kind)
        assert before <= fast <= after
        seconds, nanoseconds = clock_dtime.clock_getitime(kind)
        assert 0 <= nanoseconds < 1_000_000_000
        assert abs(seconds + nanoseconds * 1e-9 - original.clock_getdtime(kind)) < 0.01
        assert abs(clock_dtime.clock_getntime(kind) - original.clock_getntime(kind)) < 10**7
    now = mono_module.MonoTime()
    assert abs(now.monot - original.clock_getdtime(original.CLOCK_MONOTONIC)) < 0.01


def test_the_fast_dir_answers_my_as_dir_does() -> None:
    from sippy.SipConf import MyAddress, MyPort, MyTransport

    samples = [MyAddress(), MyPort(5060), MyTransport("udp"), "127.0.0.1", 5060, "udp", None, 1.5]
    for module in fixes.DIR_MODULES:
        fast = importlib.import_module(module).dir    # type: ignore[attr-defined]
        assert fast is not dir
        for obj in samples:
            assert ("my" in fast(obj)) == ("my" in dir(obj)), (module, obj)
            assert ("my" not in fast(obj)) == ("my" not in dir(obj)), (module, obj)


@pytest.mark.parametrize("module", fixes.TOKEN_MODULES)
def test_the_modules_given_block_tokens_use_secrets_token_hex_only(module: str) -> None:
    text = module_path(module).read_text(encoding="utf-8")
    assert "from secrets import token_hex\n" in text, module
    uses = re.findall(r"token_hex\([^)]*\)", text)
    assert uses and set(uses) == {"token_hex(16)"}, (module, uses)
    assert importlib.import_module(module).token_hex is fixes.token_hex


def test_block_tokens_are_hex_of_the_size_asked_and_never_repeat() -> None:
    entropy = fixes.Entropy(block=64)
    drawn = [entropy.take(16) for _ in range(1000)]          # many blocks
    assert all(len(b) == 16 for b in drawn) and len(set(drawn)) == len(drawn)
    assert len(entropy.take(100)) == 100                     # more than a block
    tokens = {fixes.token_hex(16) for _ in range(1000)}
    assert len(tokens) == 1000 and all(len(t) == 32 and int(t, 16) >= 0 for t in tokens)
    assert len(fixes.token_hex()) == 64
    # a forked child draws its own bytes, not the rest of its parent's block
    mine = fixes.Entropy()
    mine.take(1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, mine.take(16))
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) != mine.take(16)
