"""A pytest plugin: every scenario file pytest is pointed at is a test item.

A YAML file is a scenario when it has top-level `services:` and `centres:`
keys, wherever it lives. `pytest scenarios/` (or `pytest my/suite/`) runs
each in simulated time and fails the item with the expectations that did not
hold (or the file's refusal message). Scenarios that do not list `sim` among
their modes are skipped with a reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from ..scenario import ScenarioError, load
from ..scenario.files import looks_like_scenario


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """A scenario file becomes a test file holding one item, `sim`."""
    if looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(Exception):
    """A scenario was refused or an expectation failed: the item's failure text."""


class ScenarioFile(pytest.File):
    """A scenario file as pytest collects it."""

    def collect(self) -> Iterator[pytest.Item]:
        """The file's one item, `sim`."""
        yield ScenarioItem.from_parent(self, name="sim")


class ScenarioItem(pytest.Item):
    """One scenario run in simulated time."""

    def runtest(self) -> None:
        """Run the scenario in simulated time; fail on a refusal or an expectation that failed."""
        from ..studies.suite import run_scenario

        try:
            loaded = load(self.path)
        except ScenarioError as error:
            raise ScenarioFailed(str(error)) from None
        run = run_scenario(loaded, "sim")
        if run.skipped:
            pytest.skip(run.skipped)
        if not run.passed:
            lines = [f"{v.expect}: {v.detail}" for v in run.failures()]
            raise ScenarioFailed(f"{loaded.scenario.name}\n  " + "\n  ".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        """The refusal or the failed expectations alone, without a traceback."""
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """What pytest shows for the item: the file and `scenario NAME`."""
        return self.path, 0, f"scenario {self.path.name}"
