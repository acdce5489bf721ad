"""Replications on a Dask cluster give the same numbers as local processes."""

from __future__ import annotations

import distributed

from emulator.studies.load import run_replications
from emulator.scenario import loads
from tests.test_load import DAY


def test_a_local_dask_cluster_matches_local_processes() -> None:
    scenario = loads(DAY).scenario
    local = run_replications(scenario, 3, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = run_replications(scenario, 3, scheduler=cluster.scheduler_address,
                                   progress=False)
    assert [r.seed for r in on_dask] == [r.seed for r in local]
    assert [r.metrics for r in on_dask] == [r.metrics for r in local]
