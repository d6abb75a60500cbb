"""Prefect tasks of the refsr pipelines: thin `@task` wrappers over `refsr.runs`, `refsr.store` and `refsr.methods`.

Tasks take and return small things (store path, scene name, run id, target index, short dicts);
pixels only travel between the store and `refsr` functions. Every task writes only chunks it owns.
"""
from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipelines.compute import dask_client, device_slot, where
from refsr import methods, runs
from refsr import store as zarr_store
from refsr.devices import pick_device
from refsr.errors import InputError

SAMPLE = "sample"  # `source` value for the embedded Motorcycle stereo pair


def run_identity(store: str, scene: str, reference: Any, targets: Any, method: str, fusion: str | None,
                 weights: dict[str, str] | None, ensemble: bool = False) -> dict:
    """The identity of a run of `method` on `scene` (refsr.runs.run_identity).

    Reference and targets get their defaults and are checked (refsr.runs.resolve_targets);
    `fusion` and `ensemble` are kept only for a method that takes them; the method's revision is
    recorded. `weights` is `refsr.methods.method_weights(method)`.
    """
    reference, chosen = runs.resolve_targets(store, scene, reference, targets)
    used = methods.METHODS[method].applicable({"fusion": fusion, "ensemble": ensemble})
    return runs.run_identity(method, weights, reference, chosen, used.get("fusion"),
                             ensemble=bool(used.get("ensemble")), revision=methods.METHODS[method].revision)


# ---------------------------------------------------------------- tasks

@task(name="ingest-lightfield", cache_policy=NO_CACHE)
def ingest_lightfield(source: str, store: str, scene: str | None = None) -> dict:
    """Ingest a light field ("sample" = the embedded Motorcycle pair) unless it is there unchanged."""
    from refsr.io.lightfield import MOTORCYCLE_SCENE, motorcycle_sample, read_lightfield, scene_name

    if source == SAMPLE:
        lf, name = motorcycle_sample(), scene or MOTORCYCLE_SCENE
    else:
        lf = read_lightfield(source)
        name = scene or scene_name(source)
    status = zarr_store.ingest_lightfield(store, name, lf)
    get_run_logger().info("scene %s: %s (%s, grid %dx%d)", name, status, lf.reader, *lf.grid)
    return {"scene": name, "status": status}


@task(name="ingest-clip", cache_policy=NO_CACHE)
def ingest_clip(source: str, store: str, clip: str, pass_name: str = "final", frames: int | None = None) -> dict:
    """Ingest one Sintel clip (its first `frames` frames if given) unless it is there unchanged."""
    from refsr.io import clip_scene_name, read_clip

    name = clip_scene_name(clip, frames)
    data = read_clip(source, clip, pass_name, first=frames)
    status = zarr_store.ingest_video(store, name, data)
    get_run_logger().info("scene %s: %s (%d frames, %s pass)", name, status, len(data.numbers), pass_name)
    return {"scene": name, "status": status}


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(store: str, scene: str, reference: Any, targets: Any, method: str, fusion: str | None,
             device: str, run_id: str | None = None, ensemble: bool = False) -> dict:
    """Create (or resume) the run group; returns its id, status and the indices still to do (refsr.runs.open_run)."""
    identity = run_identity(store, scene, reference, targets, method, fusion, methods.method_weights(method), ensemble)
    run = runs.open_run(store, scene, identity, device, methods.METHODS[method].confidence, run_id)
    get_run_logger().info("run %s/%s: %s, %d of %d targets to do", run["run_id"], scene, run["status"],
                          len(run["pending"]), run["n"])
    return run


def _retry_transient(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry everything but bad input (InputError, ValueError): those fail at once with their message."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # noqa: BLE001 - a state without a result: retry
        exc = err
    return not isinstance(exc, (InputError, ValueError))



@task(name="reconstruct", retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_transient,
      cache_policy=NO_CACHE, task_run_name="reconstruct-{scene}-{index}")
def reconstruct_target(store: str, run_id: str, scene: str, index: int, device: str) -> dict:
    """Super-resolve target `index` of a run from its degraded HR and its reference; writes its own chunk.

    Runs in the flow-run process (thread pool) or on a Dask worker (`reconstruct_on="dask"`); either
    way one target at a time per device in a process. `device` ("auto" | "cpu" | "cuda...") is
    resolved where the task runs. A target already marked done (resumed run) is skipped.

    Returns:
        {"run_id", "scene", "index", "target", "status" ("done" | "skipped"), "device", "worker" ("<host>:<pid>")}.
    """
    dev = str(pick_device(device))
    placed = {"run_id": run_id, "scene": scene, "device": dev, "worker": where()}
    inputs = runs.target_inputs(store, run_id, scene, index)
    if inputs.done:
        return {"index": index, "target": inputs.target, "status": "skipped", **placed}
    record = methods.METHODS.get(inputs.method)  # an unknown method: super_resolve says so
    options = record.applicable({"fusion": inputs.fusion or "mask", "ensemble": inputs.ensemble}) if record else {}
    with device_slot(dev):
        out = methods.super_resolve(inputs.lr, inputs.reference_image, inputs.method, device=dev,
                                    return_confidence=inputs.confidence, **options)
    sr, confidence = out if inputs.confidence else (out, None)
    zarr_store.write_target(store, run_id, scene, index, sr, confidence)
    return {"index": index, "target": inputs.target, "status": "done", **placed}


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(store: str, jobs: list[dict], dask_address: str | None = None, dask_workers: int | None = None) -> int:
    """PSNR, PSNR-Y and SSIM of every done, not yet evaluated target of `jobs` ({run_id, scene}), Dask-parallel."""
    work = [(job["run_id"], job["scene"], i) for job in jobs
            for i in runs.unevaluated_targets(store, job["run_id"], job["scene"])]
    if not work:
        return 0
    with dask_client(dask_address, dask_workers, len(work)) as client:
        futures = client.map(runs.evaluate_target, [store] * len(work), *map(list, zip(*work)), pure=False)
        client.gather(futures)
        workers = len(client.scheduler_info()["workers"])
    get_run_logger().info("evaluated %d targets on %d Dask workers", len(work), workers)
    return len(work)


@task(name="report", cache_policy=NO_CACHE)
def report(store: str, run_id: str, scene: str) -> dict:
    """Table + markdown artifacts (heatmap or per-frame chart, GT / bicubic / result crop) and PNGs on disk."""
    rep = runs.write_report(store, run_id, scene)
    key = runs.report_key(run_id, scene)
    create_table_artifact(table=rep.rows, key=key + "-table",
                          description=f"PSNR / PSNR-Y / SSIM of run {run_id}, scene {scene} ({rep.method})")
    create_markdown_artifact(markdown=rep.markdown, key=key + "-report",
                             description=f"report of run {run_id}, scene {scene}")
    return {"run_id": run_id, "scene": scene, "report_dir": str(rep.directory),
            "pictures": [str(p) for p in rep.pictures], "mean_psnr": rep.mean_psnr}


@task(name="finish", cache_policy=NO_CACHE)
def finish(store: str, run_id: str, scene: str, computed_on: list[str] | None = None) -> str | None:
    """Add `computed_on` (devices) to the run; set its `finished` attribute when every target is done and evaluated."""
    return runs.finish_if_complete(store, run_id, scene, computed_on or ())
