"""Where pipeline work executes: a Dask cluster (evaluation; reconstruction with `reconstruct_on="dask"`)
and one compute slot per device in each process (reconstruction)."""
from __future__ import annotations

import os
import socket
import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Iterator

GPU_RESOURCE = "GPU"  # a worker started with `--resources GPU=1` runs one target at a time


def local_workers(workers: int | None = None, n_jobs: int | None = None) -> int:
    """How many worker processes a local cluster gets: `workers` (default one per core), at most one per job."""
    n = workers or os.cpu_count() or 1
    return max(1, min(n, n_jobs)) if n_jobs else n


def scheduler_address(address: str | None = None) -> str | None:
    """The address of an existing Dask scheduler to use: `address`, else $REFSR_DASK_ADDRESS, else None."""
    return address or os.environ.get("REFSR_DASK_ADDRESS") or None


@contextmanager
def dask_cluster(address: str | None = None, workers: int | None = None,
                 n_jobs: int | None = None) -> Iterator[str]:
    """The address of the Dask scheduler to use, valid for the duration of the block.

    `address` (or $REFSR_DASK_ADDRESS) when given; else a loopback LocalCluster started for the
    block: one single-threaded worker process per core (at most one per job), with the
    scheduler, workers and dashboard on 127.0.0.1.

    Args:
        address: a scheduler address; None for $REFSR_DASK_ADDRESS, or a local cluster when unset.
        workers: local worker processes (default: one per core).
        n_jobs: the number of jobs to come; caps the local workers.

    Example:
        >>> with dask_cluster(workers=2) as address:  # doctest: +SKIP
        ...     address.startswith("tcp://127.0.0.1:")
        True
    """
    address = scheduler_address(address)
    if address:
        yield address
        return
    with local_cluster(local_workers(workers, n_jobs)) as cluster:
        yield cluster.scheduler_address


def local_cluster(workers: int) -> Any:
    """A loopback dask LocalCluster of `workers` single-threaded worker processes (dashboard on 127.0.0.1 too)."""
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0", silence_logs=40)


@contextmanager
def dask_client(address: str | None = None, workers: int | None = None, n_jobs: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client on `address` (or $REFSR_DASK_ADDRESS), else on a loopback LocalCluster.

    Arguments as in `dask_cluster`.
    """
    from dask.distributed import Client

    with dask_cluster(address, workers, n_jobs) as scheduler, Client(scheduler, timeout="30s") as client:
        yield client


def dask_task_runner(address: str) -> Any:
    """A prefect-dask DaskTaskRunner on the scheduler at `address`: Prefect tasks run on its workers."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address, client_kwargs={"timeout": "30s"})


def target_resources(address: str, device: str) -> dict[str, float] | None:
    """Worker resources a target on `device` asks for: one `GPU` when the cluster's workers declare it.

    Workers that declare no `GPU` resource get no such demand (a demand nobody can meet would
    wait forever); there the per-process device slot still runs one target at a time per device.
    """
    if device == "cpu":
        return None
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        declared = [w.get("resources", {}) for w in client.scheduler_info()["workers"].values()]
    return {GPU_RESOURCE: 1} if any(GPU_RESOURCE in r for r in declared) else None


def where() -> str:
    """This process in words, `<host>:<pid>`: where a task ran."""
    return f"{socket.gethostname()}:{os.getpid()}"


# One compute slot per device in a process (the flow run's, or each Dask worker's): at most one
# target on a GPU (or on the CPU, whose cores torch already uses) at a time; reading and writing
# the store overlap freely.
_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()


@contextmanager
def device_slot(device: str) -> Iterator[None]:
    """Hold `device`'s compute slot (one per device in this process) for the duration of the block."""
    with _LOCKS_GUARD:
        lock = _LOCKS[device]
    with lock:
        yield
