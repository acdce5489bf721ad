"""Replications and sweep points on a Dask distributed cluster (`--scheduler tcp://HOST:PORT`).

The default stays local processes; this module is imported only when a
scheduler is named. Each task is one replication: it ships the scenario and
its seed, and returns the same small `Replication` a local worker would, so
the numbers are the same wherever they were computed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


def map_on_cluster(scheduler: Any, function: Callable[..., Any], arguments: Sequence[tuple[Any, ...]],
                   on_done: Callable[[], None] | None = None) -> list[Any]:
    """`function(*args)` for each args on the cluster; results in the order given.

    `scheduler` is an address (`tcp://host:port`) or a `distributed.Client`.
    """
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = [client.submit(function, *args, pure=False) for args in arguments]
        for _ in as_completed(futures):
            if on_done is not None:
                on_done()
        return [future.result() for future in futures]
    finally:
        if client is not scheduler:
            client.close()
