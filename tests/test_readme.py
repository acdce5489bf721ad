"""Every command the README shows runs as written: each `callback-emu` line parses with
the command's own parser and names files that a clone has; the cheap ones are run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import parser

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```sh\n(.*?)```", re.DOTALL)


def commands(document: Path) -> list[list[str]]:
    """The `callback-emu` commands of a document's shell blocks, continuation lines joined."""
    found = []
    for block in FENCE.findall(document.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0].endswith("callback-emu"):
                found.append(words[1:])
    return found


README = commands(ROOT / "README.md")


def test_the_readme_shows_the_commands() -> None:
    shown = {words[0] for words in README if words}
    assert {"run", "load", "sweep", "trace", "diff", "serve"} <= shown


@pytest.mark.parametrize("words", README, ids=lambda w: " ".join(w)[:60])
def test_each_command_parses_and_its_files_exist(words: list[str]) -> None:
    if words in (["--help"], ["--version"]):
        with pytest.raises(SystemExit) as done:
            parser().parse_args(words)
        assert done.value.code == 0
        return
    args = parser().parse_args(words)             # SystemExit here fails the test
    for word in words:
        if word.startswith("scenarios/") or word.startswith("docs/"):
            assert (ROOT / word).exists(), f"{word} is not in the repository"
    assert callable(args.handler)


def test_the_cheap_commands_run(tmp_path: Path) -> None:
    """The trace by outcome on the weekday study, from the repository's root."""
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "trace",
                           "scenarios/capacity/weekday_three_centres.yaml", "--outcome", "no_agent"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ": no_agent (centre" in done.stdout.splitlines()[1]
