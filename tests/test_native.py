"""The hot modules compiled with mypyc (`reference_impl/native.py`) and the pure path beside them.

`make test` builds them first (`scripts/build_native.py`), so the rest of the
suite runs compiled; here the pure-Python path runs the golden outputs too,
and the guard is shown to fall back to source whenever a build does not match.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reference_impl
from reference_impl import native

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def _python(code: str, *, pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_VARIABLE}
    if pure:
        env[native.PURE_VARIABLE] = "1"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _compiler_present() -> bool:
    return (importlib.util.find_spec("mypyc") is not None
            and any(shutil.which(cc) for cc in ("cc", "gcc", "clang")))


def test_the_build_is_live_where_it_can_be() -> None:
    """Where mypyc and a C compiler exist (`make test` builds), the suite runs compiled."""
    if os.environ.get(native.PURE_VARIABLE, "") not in ("", "0"):
        pytest.skip(f"{native.PURE_VARIABLE} is set: the suite runs pure Python on purpose")
    if not _compiler_present():
        print("test_native: no mypyc or no C compiler here; the suite runs pure Python")
        pytest.skip("no mypyc or C compiler: the hot modules run as pure Python")
    assert reference_impl.NATIVE.compiled, (
        f"hot modules not compiled: {reference_impl.NATIVE.reason}; "
        "run `.venv/bin/python scripts/build_native.py`")


def test_each_hot_module_loads_from_the_build_or_from_source_as_told() -> None:
    code = ("import json, importlib, reference_impl\nfrom reference_impl import native\n"
            "print(json.dumps([str(reference_impl.NATIVE.compiled)] + "
            "[importlib.import_module(m).__file__ for m in native.MODULES]))")
    pure = json.loads(_python(code, pure=True))
    assert pure[0] == "False" and all(path.endswith(".py") for path in pure[1:])
    if reference_impl.NATIVE.compiled:
        built = json.loads(_python(code, pure=False))
        assert built[0] == "True" and all(path.endswith(".so") for path in built[1:])


def _stamp(path: Path, **changes: object) -> Path:
    stamp = {"interpreter": native.interpreter(),
             "sources": {m: native.digest(native.source_of(m)) for m in native.MODULES}}
    stamp.update(changes)
    path.write_text(json.dumps(stamp))
    return path


def test_a_build_that_does_not_match_runs_pure(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    first = native.MODULES[0]
    sources = {m: native.digest(native.source_of(m)) for m in native.MODULES}
    cases = {
        "changed since the build": _stamp(tmp_path / "a.json",
                                          sources={**sources, first: "0" * 64}),
        "built for cpython-310": _stamp(tmp_path / "b.json", interpreter="cpython-310 .so"),
        "another list of modules": _stamp(tmp_path / "c.json", sources={first: sources[first]}),
    }
    for reason, stamp in cases.items():
        status = native.check(stamp_file=stamp)
        assert not status.compiled and reason in status.reason, (reason, status)
    if reference_impl.NATIVE.compiled:
        assert native.check(stamp_file=native.STAMP).compiled
    assert native.check(stamp_file=_stamp(tmp_path / "d.json")).compiled == (
        all(native.extension_of(m) for m in native.MODULES))
    (tmp_path / "broken.json").write_text("{not json")
    assert "unreadable" in native.check(stamp_file=tmp_path / "broken.json").reason
    assert "not built" in native.check(stamp_file=tmp_path / "none.json").reason
    monkeypatch.setenv(native.PURE_VARIABLE, "1")
    assert native.check().reason == f"{native.PURE_VARIABLE} is set"
    assert str(native.check()).startswith("pure Python")


def test_frozen_classes_pickle_whole_in_either_form() -> None:
    """Scenarios reach a parallel run's processes pickled (compiled frozen classes refuse
    the usual field-by-field restore; `reference_impl/frozen.py`)."""
    from emulator.models.distributions import Exponential, Fixed
    from emulator.models.people import AGENTS, PEOPLE
    from reference_impl.flow import CallbackPolicy, Outcome, RetryRule, Step

    things = [Fixed(2.0), Exponential(30.0), *PEOPLE.values(), *AGENTS.values(),
              Step(1.5, "bridged", "n2"),
              CallbackPolicy(retry=((Outcome.PERSON_BUSY, RetryRule(after=60.0, attempts=2)),))]
    for thing in things:
        assert pickle.loads(pickle.dumps(thing)) == thing


def test_the_pure_path_gives_the_golden_numbers() -> None:
    """The QA suite, a seeded load run and a trace, pure Python, byte for byte the golden
    outputs (tests/test_golden.py checks them all in whichever form the suite runs)."""
    code = ("import sys, json, tempfile, pathlib\nsys.path.insert(0, 'tests/golden')\n"
            "import regenerate\nkeep = {'run_qa.json', 'load_weekday.csv', 'trace_failover.txt'}\n"
            "regenerate.RUNS = [r for r in regenerate.RUNS if r[0] in keep]\n"
            "regenerate.TRACES = [r for r in regenerate.TRACES if r[0] in keep]\n"
            "import reference_impl\nassert not reference_impl.NATIVE.compiled\n"
            "out = regenerate.produce(pathlib.Path(tempfile.mkdtemp()))\n"
            "print(json.dumps({k: v.decode() for k, v in out.items()}))")
    produced = json.loads(_python(code, pure=True))
    assert set(produced) == {"run_qa.json", "load_weekday.csv", "trace_failover.txt"}
    for name, text in produced.items():
        assert text == (GOLDEN / name).read_bytes().decode(), f"{name} moved on the pure path"


# Run pure, so that every __init__ is a Python function whose origin can be read.
_INIT_CHECK = """
import dataclasses, importlib, inspect, json
from reference_impl.native import MODULES
found = []
for name in MODULES:
    module = importlib.import_module(name)
    for cls in vars(module).values():
        if not (inspect.isclass(cls) and cls.__module__ == name and dataclasses.is_dataclass(cls)):
            continue
        params = cls.__dataclass_params__
        init = cls.__init__
        written = getattr(init, "__code__", None) is not None and init.__code__.co_filename != "<string>"
        fields = [(f.name, f.kw_only, f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING) for f in dataclasses.fields(cls)]
        made = None
        if written:
            marks = {f.name: object() for f in dataclasses.fields(cls)}
            thing = cls(**marks)
            made = all(getattr(thing, k) is v for k, v in marks.items())
            signature = [(p.name, p.kind is p.KEYWORD_ONLY, p.default is p.empty)
                         for p in list(inspect.signature(init).parameters.values())[1:]]
        found.append({"class": f"{name}.{cls.__name__}", "frozen": params.frozen,
                      "init": params.init, "written": written, "sets_every_field": made,
                      "same_signature": written and signature == fields})
print(json.dumps(found))
"""


def test_compiled_dataclasses_write_their_own_init() -> None:
    """mypyc compiles the methods a class writes, not those `dataclasses` generates (these
    stay interpreted: a Python frame per event made, a fifth of a load run's time). So each
    mutable dataclass of a hot module writes its `__init__` (or inherits one with
    `init=False`): the same parameters, kinds and required ones as the fields, each set."""
    found = json.loads(_python(_INIT_CHECK, pure=True))
    assert len(found) > 50
    generated = [c["class"] for c in found if c["init"] and not c["frozen"] and not c["written"]]
    assert generated == [], "dataclasses whose __init__ runs interpreted"
    for c in found:
        if c["written"]:
            assert c["same_signature"], f"{c['class']}: __init__ differs from its fields"
            assert c["sets_every_field"], f"{c['class']}: __init__ leaves a field unset"
