"""Dask for the long runs (``bitwave sweep``, ``bitwave fuzz --scheduler``): one way to get a client.

By default a :class:`distributed.LocalCluster` on this machine (one worker
process per core, one thread each, bound to 127.0.0.1, no dashboard) is
started for the run and stopped after it; ``scheduler`` (an address such as
``tcp://host:8786``, or the path of a ``--scheduler-file``) sends the same
tasks to a running cluster (``dask scheduler`` + ``dask worker``) instead.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import SweepError

__all__ = ["local_cluster", "dask_client"]


def local_cluster(workers: int | None = None):
    """A LocalCluster of worker processes with one thread each, bound to 127.0.0.1, no dashboard."""
    from distributed import LocalCluster
    n = workers or os.cpu_count() or 1
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=40)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A Dask client for the run: of a local cluster (``workers`` processes) or of ``scheduler``.

    A local cluster is closed with the client; a running cluster is left running.
    """
    from distributed import Client
    cluster = None
    try:
        if scheduler is None:
            cluster = local_cluster(workers)
            client = Client(cluster)
        elif Path(scheduler).is_file():
            client = Client(scheduler_file=scheduler, timeout="20s")
        else:
            client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise SweepError(f"scheduler {scheduler}: cannot connect ({type(e).__name__}: {e}); "
                         f"start one with `dask scheduler` and `dask worker ADDRESS`") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
