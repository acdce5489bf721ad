"""A simulation asks for fewer garbage collections while it runs, and puts them back."""

from __future__ import annotations

import gc
import threading

from emulator.drivers.heap import FIRST_THRESHOLD, fewer_collections
from emulator.drivers.simulation import Simulation
from emulator.scenario import load


def test_thresholds_and_freeze_come_back_after_nested_and_threaded_runs() -> None:
    before = gc.get_threshold()
    seen: list[int] = []

    def run() -> None:
        with fewer_collections():
            seen.append(gc.get_threshold()[0])

    with fewer_collections():
        assert gc.get_threshold()[0] == max(FIRST_THRESHOLD, before[0])
        assert gc.get_freeze_count() > 0
        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert gc.get_threshold()[0] == max(FIRST_THRESHOLD, before[0])
    assert seen == [max(FIRST_THRESHOLD, before[0])] * 4
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_freeze_made_before_is_left_alone() -> None:
    """A PBX freezes its start-up out of the collector; a run must not undo that."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() >= frozen - 100    # (a few frozen objects die meanwhile)
    finally:
        gc.unfreeze()


def test_a_run_leaves_the_collector_as_it_found_it() -> None:
    before = gc.get_threshold()
    result = Simulation(load("scenarios/qa/outcome_connected.yaml").scenario).run()
    assert result.records and gc.get_threshold() == before and gc.get_freeze_count() == 0
