"""Where pipeline work executes: a Dask client for evaluation, one compute slot per device for reconstruction."""
from __future__ import annotations

import os
import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def dask_client(address: str | None = None, workers: int | None = None, n_jobs: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client on `address` (or $REFSR_DASK_ADDRESS), else on a loopback LocalCluster.

    The local cluster has one single-threaded worker process per core (at most one per job) and
    keeps the scheduler, workers and dashboard on 127.0.0.1.

    Args:
        address: a scheduler address; None for $REFSR_DASK_ADDRESS, or a local cluster when unset.
        workers: local worker processes (default: one per core).
        n_jobs: the number of jobs to come; caps the local workers.
    """
    from dask.distributed import Client, LocalCluster

    address = address or os.environ.get("REFSR_DASK_ADDRESS") or None
    if address:
        with Client(address, timeout="30s") as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    if n_jobs:
        n = max(1, min(n, n_jobs))
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=40) as cluster, Client(cluster) as client:
        yield client


# One compute slot per device in a flow-run process: at most one target on a GPU (or on the CPU,
# whose cores torch already uses) at a time; reading and writing the store overlap freely.
_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


@contextmanager
def device_slot(device: str) -> Iterator[None]:
    """Hold `device`'s compute slot (one per device in this process) for the duration of the block."""
    with _LOCKS_GUARD:
        lock = _LOCKS[device]
    with lock:
        yield
