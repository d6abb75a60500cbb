"""The Prefect pipelines end to end: a real server + worker + deployment, and flows under the test harness.

Real data first (HCI antinous from ../shared/data); the embedded Motorcycle pair stands in when it
is absent. Method bicubic everywhere (fast, no weights needed); the wiring is what is under test.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from refsr import metrics
from refsr import store as zarr_store
from refsr.degrade import crop_to_multiple, degrade
from refsr.errors import InputError
from refsr.io.images import write_image
from refsr.io.lightfield import motorcycle_sample, read_lightfield

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- helpers and fixtures

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_with_env(marker: str) -> list[int]:
    """Pids of our processes whose environment holds `marker` (e.g. PREFECT_HOME=<tmp>)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                env = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if needle in env:
                found.append(int(entry.name))
    return found


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file of a store: mtime (ns) and sha256 of its bytes."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def lf_source(request) -> tuple[str, list[list[int]], tuple[int, int, int]]:
    """(source, targets, HR shape of a target): real antinous (9x9 of 512x512) or the embedded pair."""
    try:
        return str(request.getfixturevalue("hci_antinous")), [[3, 3]], (512, 512, 3)
    except pytest.skip.Exception:
        return "sample", [[0, 0]], (496, 736, 3)


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory, request) -> Path:
    """A 3x3 `<u>_<v>.png` light field of real views (antinous corner, centre 256x256 crop; else Motorcycle)."""
    folder = tmp_path_factory.mktemp("grid3x3")
    try:
        views = read_lightfield(request.getfixturevalue("hci_antinous")).views[:3, :3, 128:384, 128:384]
    except pytest.skip.Exception:
        left, right = motorcycle_sample().views[0]
        views = np.stack([np.stack([np.roll(left if v < 2 else right, 4 * u, 1)[:256, :256] for v in range(3)])
                          for u in range(3)])
    for u in range(3):
        for v in range(3):
            write_image(folder / f"{u}_{v}.png", np.ascontiguousarray(views[u, v]))
    return folder


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def dask_address():
    """A loopback Dask cluster shared by the harness tests (passed as dask_address).

    Two single-threaded worker processes; the one named "gpu" declares a `GPU` resource, the one
    named "cpu" none.
    """
    from distributed import Nanny, Scheduler, SpecCluster

    def worker(**resources) -> dict:
        return {"cls": Nanny, "options": {"nthreads": 1, "host": "127.0.0.1", "resources": resources,
                                          "silence_logs": 40}}

    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}}
    with SpecCluster(scheduler=scheduler, workers={"gpu": worker(GPU=1), "cpu": worker()},
                     silence_logs=40) as cluster:
        yield cluster.scheduler_address


def _workers(address: str) -> dict[str, dict]:
    """The workers of the Dask cluster at `address`: {"<host>:<pid>" (as reconstruct tasks record it): resources}."""
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        pids = client.run(os.getpid)
        info = client.scheduler_info()["workers"]
    return {f"{socket.gethostname()}:{pid}": info[addr].get("resources", {}) for addr, pid in pids.items()}


def _children() -> set[int]:
    """Pids of this process's child processes."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(int(entry.name))
    return found


def _same_results(a: Path, run_a: str, b: Path, run_b: str, scene: str) -> None:
    """Each target of run `run_b` (store `b`) has the SR image, bit-identical, and metrics of its view in `run_a` (`a`).

    When both runs have the same targets, their `sr` chunk files are byte-identical too.
    """
    ga, gb = zarr_store.run_group(a, run_a, scene), zarr_store.run_group(b, run_b, scene)
    targets_a = [tuple(int(x) for x in t) for t in ga["targets"][...]]
    targets_b = [tuple(int(x) for x in t) for t in gb["targets"][...]]
    for j, t in enumerate(targets_b):
        i = targets_a.index(t)
        assert np.array_equal(np.asarray(ga["sr"][i]), np.asarray(gb["sr"][j])), t
        assert [float(ga[k][i]) for k in zarr_store.METRICS] == [float(gb[k][j]) for k in zarr_store.METRICS], t
    if targets_a == targets_b:
        chunks_a, chunks_b = Path(a, "runs", run_a, scene, "sr"), Path(b, "runs", run_b, scene, "sr")
        assert {p.relative_to(chunks_a): p.read_bytes() for p in chunks_a.rglob("*") if p.is_file()} == \
            {p.relative_to(chunks_b): p.read_bytes() for p in chunks_b.rglob("*") if p.is_file()}


def _check_run(store: Path, run_id: str, scene: str, shape: tuple[int, ...], expect: int, ssim_of: int = 1) -> None:
    """Every target done, finished, and stored metrics equal to refsr.metrics on the stored images."""
    g = zarr_store.run_group(store, run_id, scene)
    assert g["sr"].shape == (expect, *shape)
    assert bool(np.asarray(g["done"][...]).all())
    assert g.attrs["finished"]
    targets = np.asarray(g["targets"][...])
    lf = zarr_store.scene(store, scene)
    for i, (u, v) in enumerate(targets):
        sr = np.asarray(g["sr"][i])
        hr = crop_to_multiple(np.asarray(lf["views"][u, v]))
        assert sr.std() > 0
        assert float(g["psnr"][i]) == pytest.approx(metrics.psnr(sr, hr), abs=1e-9)
        assert float(g["psnr_y"][i]) == pytest.approx(metrics.psnr_y(sr, hr), abs=1e-9)
        if i < ssim_of:
            assert float(g["ssim"][i]) == pytest.approx(metrics.ssim(sr, hr), abs=1e-9)


# ---------------------------------------------------------------- a real server, worker and deployment

def test_deployment_run_on_a_real_server(tmp_path: Path, lf_source) -> None:
    source, targets, shape = lf_source
    home, run = tmp_path / "prefect-home", tmp_path / "run"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_WORKER_QUERY_SECONDS="1")
    make = ["make", "-s", "--no-print-directory", f"PREFECT_PORT={port}", f"RUN={run}", f"PREFECT_HOME={home}"]
    store = tmp_path / "lf.zarr"
    try:
        up = subprocess.run([*make, "up"], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "refsr/lf-reconstruct" in up.stdout
        params = {"source": source, "store": str(store), "targets": targets, "method": "bicubic"}
        cmd = [PREFECT, "deployment", "run", "refsr/lf-reconstruct", "--watch", "--watch-interval", "1"]
        for key, value in params.items():
            cmd += ["-p", f"{key}={json.dumps(value)}"]
        res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        log = run / "worker.log"
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
        assert "Completed" in res.stdout
    finally:
        stop = subprocess.run([*make, "stop"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        deadline = time.monotonic() + 15
        while _pids_with_env(f"PREFECT_HOME={home}") and time.monotonic() < deadline:
            time.sleep(0.5)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert _pids_with_env(f"PREFECT_HOME={home}") == [], "server, worker, flow or Dask processes left running"
    assert not list(run.glob("*.pid"))

    scene = "motorcycle" if source == "sample" else Path(source).name
    (run_id, got_scene), = zarr_store.run_names(store)
    assert got_scene == scene and run_id.startswith("bicubic-")
    _check_run(store, run_id, scene, shape, 1)
    pictures = sorted(p.name for p in (tmp_path / "lf.zarr.reports" / run_id / scene).glob("*.png"))
    assert pictures == ["crop_truth_bicubic_result.png", "psnr_heatmap.png"]


# ---------------------------------------------------------------- flows under the harness

def test_all_views_with_a_dask_cluster(tmp_path: Path, harness, dask_address, small_grid) -> None:
    from prefect.artifacts import Artifact

    from pipelines.flows import lf_reconstruct

    store = tmp_path / "all.zarr"
    out = lf_reconstruct(source=str(small_grid), store=str(store), scene="grid", targets="all", method="bicubic",
                         device="cpu", dask_address=dask_address)
    (run,) = out["runs"]
    assert run["n"] == 8 and out["reconstructed"] == 8 and out["evaluated"] == 8
    _check_run(store, run["run_id"], "grid", (256, 256, 3), 8, ssim_of=8)
    assert [list(t) for t in zarr_store.run_group(store, run["run_id"], "grid")["targets"][...]] == \
        [[u, v] for u in range(3) for v in range(3) if (u, v) != (0, 0)]
    key = f"refsr-grid-{run['run_id']}"
    table = Artifact.get(key + "-table")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert len(rows) == 8 and all(r["done"] and r["psnr"] > 20 for r in rows)
    assert "data:image/png;base64," in Artifact.get(key + "-report").data
    # Same call again: the run is resumed with nothing to do, and the store does not change.
    before = _snapshot(store)
    again = lf_reconstruct(source=str(small_grid), store=str(store), scene="grid", targets="all", method="bicubic",
                           device="cpu", dask_address=dask_address)
    assert again["runs"][0]["status"] == "resumed" and again["reconstructed"] == 0 and again["evaluated"] == 0
    assert _snapshot(store) == before


def test_sintel_clip_first_frames(tmp_path: Path, harness, dask_address, sintel_root) -> None:
    from pipelines.flows import sintel_reconstruct

    store = tmp_path / "clips.zarr"
    out = sintel_reconstruct(source=str(sintel_root), store=str(store), clips=["alley_1"], frames=3,
                             method="bicubic", device="cpu", dask_address=dask_address)
    (run,) = out["runs"]
    assert run["scene"] == "alley_1-first3" and run["n"] == 2 and out["evaluated"] == 2
    assert zarr_store.scene(store, "alley_1-first3").attrs["frames"] == 3
    g = zarr_store.run_group(store, run["run_id"], "alley_1-first3")
    assert g["sr"].shape == (2, 432, 1024, 3) and g.attrs["finished"]
    frames = zarr_store.scene(store, "alley_1-first3")["frames"]
    assert np.asarray(g["targets"][...]).tolist() == [[1, 0], [2, 0]]  # frames 2 and 3, each against the one before
    for i, t in enumerate((1, 2)):
        hr = crop_to_multiple(np.asarray(frames[t]))
        assert float(g["psnr"][i]) == pytest.approx(metrics.psnr(np.asarray(g["sr"][i]), hr), abs=1e-9)


def test_resume_after_failures_recomputes_only_missing_views(tmp_path: Path, harness, dask_address, small_grid,
                                                            monkeypatch) -> None:
    from pipelines.flows import lf_reconstruct
    from refsr import methods
    from refsr.tensors import to_image

    lf = read_lightfield(small_grid)
    key_of = {hashlib.sha256(degrade(lf.views[u, v]).tobytes()).hexdigest(): (u, v)
              for u in range(3) for v in range(3)}
    calls: Counter = Counter()
    lock = threading.Lock()
    bicubic = methods.METHODS["bicubic"]
    flaky, broken = (1, 1), (2, 2)

    def counting(lr, ref, **kw):  # a method's `run` takes float (1, 3, h, w) tensors
        target = key_of[hashlib.sha256(to_image(lr[0]).tobytes()).hexdigest()]
        with lock:
            calls[target] += 1
            n = calls[target]
        if target == flaky and n == 1:
            raise RuntimeError("transient failure (test)")
        if target == broken and failing:
            raise InputError(f"view {broken}", "unreadable view (test)")
        return bicubic.run(lr, ref, **kw)

    monkeypatch.setitem(methods.METHODS, "bicubic", dataclasses.replace(bicubic, run=counting))
    store = tmp_path / "resume.zarr"
    kwargs = dict(source=str(small_grid), store=str(store), scene="grid", targets="all", method="bicubic",
                  device="cpu", dask_address=dask_address, run_id="resume-test")
    failing = True
    with pytest.raises(RuntimeError, match=r"1 target\(s\) failed.*unreadable view \(test\)"):
        lf_reconstruct(**kwargs)
    assert calls[flaky] == 2  # retried once, then stored
    assert calls[broken] == 1  # bad input: not retried
    g = zarr_store.run_group(store, "resume-test", "grid")
    done = np.asarray(g["done"][...])
    assert done.sum() == 7 and not g.attrs["finished"]
    stored = {i: np.asarray(g["sr"][i]).copy() for i in np.flatnonzero(done)}
    assert np.isfinite(np.asarray(g["psnr"][...])[done]).all()  # the finished views were evaluated

    failing = False
    calls.clear()
    out = lf_reconstruct(**kwargs)
    assert out["runs"][0]["status"] == "resumed" and out["reconstructed"] == 1 and out["evaluated"] == 1
    assert dict(calls) == {broken: 1}  # only the missing view was computed
    g = zarr_store.run_group(store, "resume-test", "grid")
    assert all(np.array_equal(np.asarray(g["sr"][i]), a) for i, a in stored.items())
    _check_run(store, "resume-test", "grid", (256, 256, 3), 8)


def test_reprocess_reruns_stale_weights_and_is_idempotent(tmp_path: Path, harness, dask_address, small_grid,
                                                          monkeypatch) -> None:
    from pipelines.flows import reprocess
    from refsr import methods

    store = tmp_path / "re.zarr"
    assert zarr_store.ingest_lightfield(store, "grid", read_lightfield(small_grid)) == "ingested"
    kwargs = dict(store=str(store), method="bicubic", device="cpu", dask_address=dask_address)
    # Results made "with other weights": pretend bicubic had weights when the first run was made.
    with monkeypatch.context() as m:
        m.setattr(methods, "method_weights", lambda method: {"old-net": "0" * 64})
        first = reprocess(**kwargs)
    assert len(first["runs"]) == 1 and first["reconstructed"] == 8
    old_id = first["runs"][0]["run_id"]
    second = reprocess(**kwargs)  # current weights (none) differ from the recorded ones: a new run
    assert len(second["runs"]) == 1 and second["reconstructed"] == 8
    new_id = second["runs"][0]["run_id"]
    assert new_id != old_id and zarr_store.run_group(store, new_id, "grid").attrs["weights"] is None
    _check_run(store, new_id, "grid", (256, 256, 3), 8)
    before = _snapshot(store)
    third = reprocess(**kwargs)
    assert third["runs"] == [] and third["up_to_date"] == [f"grid:{new_id}"]
    assert _snapshot(store) == before


# ---------------------------------------------------------------- reconstruction on a Dask cluster

def test_reconstruct_on_dask_matches_the_local_path(tmp_path: Path, harness, dask_address, small_grid) -> None:
    from pipelines.flows import lf_reconstruct

    kwargs = dict(source=str(small_grid), scene="grid", targets="all", method="bicubic", device="cpu",
                  dask_address=dask_address)
    local = lf_reconstruct(store=str(tmp_path / "local.zarr"), **kwargs)
    on_dask = lf_reconstruct(store=str(tmp_path / "dask.zarr"), reconstruct_on="dask", **kwargs)
    assert local["reconstructed_by"] == {f"{socket.gethostname()}:{os.getpid()}": 8}  # the flow-run process
    workers = _workers(dask_address)
    assert on_dask["reconstructed"] == 8 and sum(on_dask["reconstructed_by"].values()) == 8
    assert set(on_dask["reconstructed_by"]) == set(workers)  # both worker processes, none else
    assert "cluster_s" not in local["timings"] and "cluster_s" in on_dask["timings"]
    (run,) = on_dask["runs"]
    assert run["run_id"] == local["runs"][0]["run_id"]
    _check_run(tmp_path / "dask.zarr", run["run_id"], "grid", (256, 256, 3), 8)
    _same_results(tmp_path / "local.zarr", run["run_id"], tmp_path / "dask.zarr", run["run_id"], "grid")


def test_reconstruct_on_dask_targets_ask_for_a_declared_gpu(tmp_path: Path, harness, dask_address,
                                                            small_grid) -> None:
    from pipelines import compute
    from pipelines.flows import lf_reconstruct

    assert compute.target_resources(dask_address, "cpu") is None
    assert compute.target_resources(dask_address, "auto") == {"GPU": 1}
    # device "auto" (resolved on the worker: this host has no CUDA) asks each target for the one
    # GPU the "gpu" worker declares: every target runs there, one at a time.
    out = lf_reconstruct(source=str(small_grid), store=str(tmp_path / "gpu.zarr"), scene="grid",
                         targets=[[0, 1], [1, 1], [2, 2]], method="bicubic", device="auto",
                         reconstruct_on="dask", dask_address=dask_address)
    gpu = [w for w, resources in _workers(dask_address).items() if resources.get("GPU")]
    assert out["reconstructed_by"] == {gpu[0]: 3}
    g = zarr_store.run_group(tmp_path / "gpu.zarr", out["runs"][0]["run_id"], "grid")
    assert g.attrs["device"] == "auto" and bool(np.asarray(g["done"][...]).all())
    assert g.attrs["computed_on"] == ["cpu"]  # what "auto" resolved to on the worker


def test_reconstruct_on_a_local_dask_cluster(tmp_path: Path, harness, small_grid) -> None:
    from pipelines.flows import lf_reconstruct

    kwargs = dict(source=str(small_grid), scene="grid", method="bicubic", device="cpu")
    local = lf_reconstruct(store=str(tmp_path / "local.zarr"), targets="all", **kwargs)
    before = _children()
    store = tmp_path / "lc.zarr"
    # No address: a loopback LocalCluster of one single-threaded worker per target (at most one per core).
    out = lf_reconstruct(store=str(store), targets=[[1, 1], [2, 2]], reconstruct_on="dask", dask_workers=2, **kwargs)
    assert out["reconstructed"] == 2 and out["evaluated"] == 2 and "cluster_s" in out["timings"]
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert sum(out["reconstructed_by"].values()) == 2 and here not in out["reconstructed_by"]
    assert _children() <= before, "Dask worker processes left running"
    run_id = out["runs"][0]["run_id"]
    _check_run(store, run_id, "grid", (256, 256, 3), 2)
    _same_results(tmp_path / "local.zarr", local["runs"][0]["run_id"], store, run_id, "grid")
    # Again: nothing pending, so no cluster is started and nothing is written.
    snap = _snapshot(store)
    again = lf_reconstruct(store=str(store), targets=[[1, 1], [2, 2]], reconstruct_on="dask", **kwargs)
    assert again["reconstructed"] == 0 and again["reconstructed_by"] == {} and "cluster_s" not in again["timings"]
    assert _snapshot(store) == snap
