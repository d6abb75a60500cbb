"""pipelines.compute: worker counts, the scheduler address rule and the per-device compute slot (no cluster)."""
from __future__ import annotations

import os
import threading
import time

from pipelines.compute import device_slot, local_workers, scheduler_address, target_resources, where


def test_local_workers_one_per_core_at_most_one_per_job(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert local_workers() == 4
    assert local_workers(n_jobs=2) == 2
    assert local_workers(workers=3, n_jobs=10) == 3
    assert local_workers(workers=3, n_jobs=0) == 3  # no job count known: no cap
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert local_workers() == 1


def test_scheduler_address_argument_then_environment(monkeypatch) -> None:
    monkeypatch.delenv("REFSR_DASK_ADDRESS", raising=False)
    assert scheduler_address() is None
    monkeypatch.setenv("REFSR_DASK_ADDRESS", "tcp://10.0.0.1:8786")
    assert scheduler_address() == "tcp://10.0.0.1:8786"
    assert scheduler_address("tcp://127.0.0.1:1") == "tcp://127.0.0.1:1"
    monkeypatch.setenv("REFSR_DASK_ADDRESS", "")
    assert scheduler_address() is None


def test_a_cpu_target_asks_no_resources() -> None:
    assert target_resources("tcp://unreachable:1", "cpu") is None  # decided without contacting the cluster


def test_where_names_host_and_process() -> None:
    host, pid = where().rsplit(":", 1)
    assert host and int(pid) == os.getpid()


def test_device_slot_runs_one_block_per_device_at_a_time() -> None:
    inside: dict[str, int] = {"cpu": 0, "cuda:0": 0}
    most: dict[str, int] = {"cpu": 0, "cuda:0": 0}
    guard = threading.Lock()

    def work(device: str) -> None:
        with device_slot(device):
            with guard:
                inside[device] += 1
                most[device] = max(most[device], inside[device])
            time.sleep(0.01)
            with guard:
                inside[device] -= 1

    threads = [threading.Thread(target=work, args=(d,)) for d in ("cpu", "cuda:0") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == {"cpu": 1, "cuda:0": 1}
