#!/usr/bin/env python3
"""Compile the hot modules (`reference_impl.native.MODULES`) with mypyc, in place.

    .venv/bin/python scripts/build_native.py          # build if a source changed
    .venv/bin/python scripts/build_native.py --force  # build again
    .venv/bin/python scripts/build_native.py --clean  # remove what it built

`make demo` and `make test` run it. It needs mypy (the `test` extra) and a C
compiler; without either it says so and leaves the pure-Python modules in
charge, which run the same flow with the same seeded numbers, only slower.
The stamp (`reference_impl/native.json`) is written last, so an interrupted
build is never taken for a finished one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["CALLBACK_EMU_PURE"] = "1"      # importing the list must not load old builds

from reference_impl import native  # noqa: E402

SETUP = """
from setuptools import setup
from mypyc.build import mypycify
setup(name="callback-emulator-native", ext_modules=mypycify({paths!r},
      opt_level="3", group_name={group!r}, target_dir={target!r}))
"""


def built_files() -> list[Path]:
    """Every file a build left in the packages (the project has no other extensions)."""
    found = [native.STAMP] if native.STAMP.exists() else []
    for package in ("reference_impl", "emulator"):
        found += sorted((ROOT / package).rglob("*.so"))
    return found


def clean() -> None:
    """Remove the compiled modules and the stamp."""
    for path in built_files():
        path.unlink()


def build() -> int:
    """Compile in a scratch directory, copy the modules in, then write the stamp."""
    clean()
    paths = [str(native.source_of(module).relative_to(ROOT)) for module in native.MODULES]
    sources = {module: native.digest(native.source_of(module)) for module in native.MODULES}
    with tempfile.TemporaryDirectory(prefix="callback-native-") as scratch:
        setup = Path(scratch, "setup.py")
        setup.write_text(SETUP.format(paths=paths, group=native.GROUP,
                                  target=str(Path(scratch, "c"))))
        command = [sys.executable, str(setup), "-q", "build_ext", "--inplace",
                   "--build-temp", str(Path(scratch, "temp")), "-j", str(os.cpu_count() or 1)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
            print("build_native: mypyc failed; the hot modules stay pure Python", file=sys.stderr)
            clean()
            return 1
        shutil.rmtree(ROOT / ".mypy_cache" / "mypyc", ignore_errors=True)
    native.STAMP.write_text(json.dumps(
        {"interpreter": native.interpreter(), "sources": sources}, indent=1) + "\n")
    print(f"build_native: {len(paths)} modules compiled with mypyc")
    return 0


def main() -> int:
    """Build when the stamp does not match the sources; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args()
    if args.clean:
        clean()
        return 0
    del os.environ["CALLBACK_EMU_PURE"]
    status = native.check()
    os.environ["CALLBACK_EMU_PURE"] = "1"
    if status.compiled and not args.force:
        print("build_native: up to date")
        return 0
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        print("build_native: mypyc is missing (pip install mypy); the hot modules stay "
              "pure Python", file=sys.stderr)
        return 1
    return build()


if __name__ == "__main__":
    sys.exit(main())
