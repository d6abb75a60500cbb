"""Prefect flows of refsr (all named `refsr`; prefect.yaml deploys each as refsr/<deployment>).

- `lf_reconstruct`: ingest a light field -> open (or resume) a run -> one mapped `reconstruct` task
  per target view -> Dask-parallel evaluation -> report artifacts + PNGs -> mark the run finished.
- `sintel_reconstruct`: the same for Sintel clips, frame t+1 super-resolved from frame t.
- `reprocess`: re-run every scene of a store whose results are missing or were made with other
  weights; a second run finds everything up to date and writes nothing.

Where the `reconstruct` tasks run is the parameter `reconstruct_on`: "local" (default) = this flow
run's thread pool, one target at a time per device; "dask" = a subflow `reconstruct-on-dask` with
prefect-dask's DaskTaskRunner on the cluster at `dask_address` (or $REFSR_DASK_ADDRESS), else on a
loopback LocalCluster started for the run; evaluation then uses the same cluster.

Run ids default to `<method>-<hash of settings and weights>`, so the same call resumes a run that
was interrupted and re-does only the missing targets. What a run is (defaults, checks, reports,
the up-to-date rule of `reprocess`) is refsr.runs; the flows only order the tasks.
"""
from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, Literal, Optional, Union

import dask
from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines import compute
from pipelines import tasks
from refsr import methods, runs
from refsr import store as zarr_store

View = tuple[int, int]  # (u, v) of a light-field view
TargetsParam = Union[list[View], Literal["all"], None]
ReconstructOn = Literal["local", "dask"]
Fusion = Literal["mask", "average"]  # refsr.synthesis.FUSIONS, as a parameter type Prefect can show
_RUNNER = ThreadPoolTaskRunner(max_workers=4)


def _device(device: str) -> str:
    from refsr.devices import pick_device

    return str(pick_device(device))


def _absolute(store: str) -> str:
    """The store path as every task gets it: absolute, `~` expanded (tasks may run in other directories)."""
    return str(Path(store).expanduser().resolve())


def _target_device(device: str, reconstruct_on: ReconstructOn) -> str:
    """The device a run's targets get: resolved here for this flow run, as asked for Dask workers (each resolves it)."""
    return device if reconstruct_on == "dask" else _device(device)


def _submit_targets(store: str, opened: list[dict], device: str, rec: Any) -> list[tuple[dict, int, Any]]:
    """Submit task `rec` (reconstruct_target) for every pending target of `opened`: (run, index, future)."""
    return [(r, i, rec.submit(store, r["run_id"], r["scene"], i, device)) for r in opened for i in r["pending"]]


def _await_targets(submitted: list[tuple[dict, int, Any]]) -> dict:
    """Wait for submitted reconstruct tasks: {"results": their dicts, "failures": one line per failed target}."""
    results, failures = [], []
    for r, i, future in submitted:
        future.wait()
        if future.state.is_completed():
            results.append(future.result())
        else:
            err = future.state.result(raise_on_failure=False)
            failures.append(f"{r['scene']} target {i}: {err}")
    return {"results": results, "failures": failures}


@flow(name="refsr", flow_run_name="reconstruct-on-dask", log_prints=True)
def reconstruct_on_dask(store: str, opened: list[dict], device: str,
                        resources: Optional[dict[str, float]] = None) -> dict:
    """Reconstruct the pending targets of `opened` (open_run results) with this flow's task runner.

    A subflow: the caller gives it a DaskTaskRunner (`pipelines.compute.dask_task_runner`), so each
    target is a Prefect task run on a Dask worker; `resources` (e.g. {"GPU": 1}) is each target's
    demand on the workers. Failed targets are returned, not raised (see `_await_targets`).
    """
    with dask.annotate(resources=resources) if resources else nullcontext():
        submitted = _submit_targets(store, opened, device, tasks.reconstruct_target)
    return _await_targets(submitted)


def _reconstruct(store: str, opened: list[dict], device: str, address: str | None) -> dict:
    """Reconstruct the pending targets of `opened`: on the Dask scheduler at `address`, else in this flow run.

    In this flow run the tasks share its thread pool, and on CUDA they are tagged `refsr-gpu`
    (`prefect concurrency-limit create refsr-gpu 1` limits them across runs too).
    """
    if address is None:
        rec = tasks.reconstruct_target
        if device.startswith("cuda"):
            rec = rec.with_options(tags=["refsr-gpu"])
        return _await_targets(_submit_targets(store, opened, device, rec))
    on_dask = reconstruct_on_dask.with_options(task_runner=compute.dask_task_runner(address))
    return on_dask(store, opened, device, compute.target_resources(address, device))


def _cluster_workers(dask_address: str | None, device: str, dask_workers: int | None) -> int | None:
    """Workers of a local cluster that reconstructs: as asked, else one per core, but one on a CUDA host.

    A CUDA host gets one worker process, as its device slot is per process. Not used (None) when
    the cluster is an existing one.
    """
    if compute.scheduler_address(dask_address) or dask_workers:
        return dask_workers
    return 1 if _device(device).startswith("cuda") else None


def _computed_on(results: list[dict], run: dict) -> list[str]:
    """The devices that made targets of `run` (an open_run result) in this flow run."""
    return sorted({d["device"] for d in results
                   if d["status"] == "done" and (d["run_id"], d["scene"]) == (run["run_id"], run["scene"])})


def _run(store: str, opened: list[dict], device: str, dask_address: str | None, dask_workers: int | None,
         timings: dict[str, float], reconstruct_on: ReconstructOn = "local") -> dict:
    """Reconstruct the pending targets of `opened` (open_run results), evaluate, report, finish.

    With `reconstruct_on="dask"` reconstruction and evaluation share one Dask cluster: the one at
    `dask_address` (or $REFSR_DASK_ADDRESS), else a loopback LocalCluster started for this run.
    """
    logger = get_run_logger()
    n_pending = sum(len(r["pending"]) for r in opened)
    on_dask = reconstruct_on == "dask" and n_pending > 0
    with ExitStack() as stack:
        t0 = time.perf_counter()
        address = dask_address
        if on_dask:
            workers = _cluster_workers(dask_address, device, dask_workers)
            address = stack.enter_context(compute.dask_cluster(dask_address, workers, n_pending))
            timings["cluster_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = _reconstruct(store, opened, device, address if on_dask else None)
        timings["reconstruct_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluated = tasks.evaluate(store, [{"run_id": r["run_id"], "scene": r["scene"]} for r in opened], address,
                               dask_workers)
        timings["evaluate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    reports = [tasks.report(store, r["run_id"], r["scene"]) for r in opened]
    finished = [tasks.finish(store, r["run_id"], r["scene"], _computed_on(done["results"], r)) for r in opened]
    timings["report_s"] = time.perf_counter() - t0
    placement = dict(Counter(d["worker"] for d in done["results"]))
    logger.info("reconstructed %d target(s) %s in %d process(es): %s", len(done["results"]),
                "on Dask" if on_dask else "in this flow run", len(placement),
                ", ".join(f"{w} x{n}" for w, n in placement.items()) or "-")
    logger.info("timings (s): %s", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    for rep in reports:
        logger.info("report of %s/%s: %s", rep["run_id"], rep["scene"], rep["report_dir"])
    failures = done["failures"]
    summary = {"store": store, "runs": [{k: r[k] for k in ("run_id", "scene", "status", "n")} for r in opened],
               "reconstructed": n_pending - len(failures), "reconstructed_by": placement, "evaluated": evaluated,
               "reports": reports, "finished": finished, "timings": timings}
    if failures:
        raise RuntimeError(f"{len(failures)} target(s) failed (the others are stored; rerun to retry them): "
                           + "; ".join(failures))
    return summary


@flow(name="refsr", task_runner=_RUNNER, log_prints=True)
def lf_reconstruct(
    source: str = tasks.SAMPLE,
    store: str = runs.DEMO_STORE,
    scene: Optional[str] = None,
    reference: Optional[View] = None,
    targets: TargetsParam = None,
    method: Optional[str] = None,
    fusion: Fusion = "mask",
    ensemble: bool = False,
    device: str = "auto",
    reconstruct_on: ReconstructOn = "local",
    dask_address: Optional[str] = None,
    dask_workers: Optional[int] = None,
    run_id: Optional[str] = None,
) -> dict:
    """Super-resolve x8 light-field views from a reference view and evaluate them.

    source: "sample" (embedded Motorcycle pair), an HCI folder, a `<u>_<v>.png` folder or an HDF5 file.
    reference/targets default to (0, 0) and [(3, 3)] ("all" = every view but the reference); for a
    stereo pair (0, 1) and [(0, 0)]. method None = "refsr" once its weights exist, else "bicubic".
    ensemble: refsr also runs on the mirrored pair and averages (`refsr sr --ensemble`, twice the time).
    """
    timings: dict[str, float] = {}
    store = _absolute(store)
    method = method or methods.default_method()
    dev = _target_device(device, reconstruct_on)
    t0 = time.perf_counter()
    ing = tasks.ingest_lightfield(source, store, scene)
    timings["ingest_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = tasks.open_run(store, ing["scene"], reference, targets, method, fusion, dev, run_id, ensemble)
    timings["open_run_s"] = time.perf_counter() - t0
    return _run(store, [run], dev, dask_address, dask_workers, timings, reconstruct_on)


@flow(name="refsr", task_runner=_RUNNER, log_prints=True)
def sintel_reconstruct(
    source: str,
    store: str = "data/sintel.zarr",
    clips: Optional[list[str]] = None,
    pass_name: Literal["clean", "final"] = "final",
    frames: Optional[int] = None,
    method: Optional[str] = None,
    fusion: Fusion = "mask",
    ensemble: bool = False,
    device: str = "auto",
    reconstruct_on: ReconstructOn = "local",
    dask_address: Optional[str] = None,
    dask_workers: Optional[int] = None,
    run_id: Optional[str] = None,
) -> dict:
    """Super-resolve x8 every frame t+1 of Sintel clips from frame t (source: a Sintel `training/` folder).

    clips None = every clip with the pass; frames N = only the first N frames of each clip (scene `<clip>-firstN`).
    """
    from refsr.io.sintel import clips_with_pass, list_clips

    timings: dict[str, float] = {}
    store = _absolute(store)
    method = method or methods.default_method()
    dev = _target_device(device, reconstruct_on)
    names = clips or clips_with_pass(list_clips(source), pass_name)
    t0 = time.perf_counter()
    scenes = [tasks.ingest_clip(source, store, c, pass_name, frames)["scene"] for c in names]
    timings["ingest_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    opened = [tasks.open_run(store, s, None, "all", method, fusion, dev, run_id, ensemble) for s in scenes]
    timings["open_run_s"] = time.perf_counter() - t0
    return _run(store, opened, dev, dask_address, dask_workers, timings, reconstruct_on)


@flow(name="refsr", task_runner=_RUNNER, log_prints=True)
def reprocess(
    store: str = runs.DEMO_STORE,
    method: Optional[str] = None,
    fusion: Fusion = "mask",
    ensemble: bool = False,
    device: str = "auto",
    reconstruct_on: ReconstructOn = "local",
    dask_address: Optional[str] = None,
    dask_workers: Optional[int] = None,
) -> dict:
    """Re-run every scene whose results with `method` and its current weights are missing or unfinished.

    Each scene keeps the references and targets of its earlier runs (the defaults when it has none).
    Up-to-date scenes are not touched, so a second run writes nothing.
    """
    logger = get_run_logger()
    timings: dict[str, float] = {}
    store = _absolute(store)
    method = method or methods.default_method()
    dev = _target_device(device, reconstruct_on)
    weights = methods.method_weights(method)
    opened, fresh = [], []
    t0 = time.perf_counter()
    for scene in zarr_store.scene_names(store):
        for config in runs.run_configs(store, scene):
            identity = tasks.run_identity(store, scene, config["reference"], config["targets"], method, fusion, weights,
                                          ensemble)
            done, run_id = runs.up_to_date(store, scene, identity)
            if done:
                fresh.append(f"{scene}:{run_id}")
                continue
            opened.append(tasks.open_run(store, scene, identity["reference"], identity["targets"], method, fusion, dev,
                                         run_id, ensemble))
    timings["open_run_s"] = time.perf_counter() - t0
    logger.info("%d run(s) to (re)do, %d up to date: %s", len(opened), len(fresh), ", ".join(fresh) or "-")
    if not opened:
        return {"store": store, "runs": [], "up_to_date": fresh, "timings": timings}
    return {**_run(store, opened, dev, dask_address, dask_workers, timings, reconstruct_on), "up_to_date": fresh}


if __name__ == "__main__":
    print(lf_reconstruct())
