"""Prefect tasks of the refsr pipelines: thin wiring over `refsr`, no image processing of their own.

Tasks take and return small things (store path, scene name, run id, target index, short dicts);
pixels only travel between the store and `refsr` functions. Every task writes only chunks it owns.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import threading
from collections import defaultdict
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from refsr import metrics, models
from refsr.pictures import chart_picture, crop_picture, heatmap_picture
from refsr import store as st
from refsr.degrade import SCALE, crop_to_multiple, degrade, upsample_image
from refsr.errors import InputError

PREVIOUS = "previous"  # the reference of a video target (t, 0): frame t-1
SAMPLE = "sample"  # `source` value for the embedded Motorcycle stereo pair
FUSION_METHODS = {"refsr"}  # methods for which the `fusion` parameter means something


# ---------------------------------------------------------------- small helpers (no Prefect)

def default_method() -> str:
    """"refsr" once the CC-Net, SS-Net and SRResNet-NN weights are shipped, else "bicubic"."""
    from refsr import methods

    return "refsr" if all(models.available(n) for n in methods.METHOD_WEIGHTS["refsr"]) else "bicubic"


def method_weights(method: str) -> dict[str, str] | None:
    """{network: sha256} of the weights `method` uses (None for weightless methods); missing = clear error."""
    from refsr import methods

    if method not in methods.METHODS:
        raise InputError("method", f"unknown method {method!r}; choose from {', '.join(methods.METHODS)}")
    names = methods.METHOD_WEIGHTS.get(method, ())
    if not names:
        return None
    for name in names:
        if not models.available(name):
            raise InputError(models.weights_path(name), f"method {method!r} needs these weights; train them with "
                                                        f"`{models.HOW_TO_TRAIN.get(name, 'refsr train')}`")
    return {name: models.weights_sha256(name) for name in names}


def run_identity(method: str, weights: dict | None, reference: Any, targets: Sequence, fusion: str | None,
                 params: dict) -> dict:
    """The attributes that make a run what it is (store.RUN_IDENTITY), JSON-normalised."""
    return st._json({"method": method, "weights": weights, "reference": reference,
                     "targets": [list(map(int, t)) for t in targets], "fusion": fusion, "params": params})


def default_run_id(identity: dict) -> str:
    """`<method>-<8 hex>`: the same settings and weights give the same id, so a rerun resumes."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"{identity['method']}-{digest}"


def scene_kind(store: str, scene: str) -> str:
    return str(st.scene(store, scene).attrs.get("kind"))


def _image(store: str, scene: str, target: Sequence[int]) -> np.ndarray:
    """The full-resolution view (u, v) or frame (t, 0) of a scene; a missing view is an InputError."""
    g = st.scene(store, scene)
    if g.attrs.get("kind") == "video":
        t = int(target[0])
        if not 0 <= t < g["frames"].shape[0]:
            raise InputError(store, f"scene {scene!r} has no frame index {t} (0..{g['frames'].shape[0] - 1})")
        return np.asarray(g["frames"][t])
    u, v = int(target[0]), int(target[1])
    grid = g["views"].shape[:2]
    if not (0 <= u < grid[0] and 0 <= v < grid[1]):
        raise InputError(store, f"scene {scene!r}: view ({u}, {v}) is outside its {grid[0]}x{grid[1]} grid")
    if "present" in g and not bool(g["present"][u, v]):
        raise InputError(g.attrs.get("source", store), f"scene {scene!r}: view ({u}, {v}) is missing from the source")
    return np.asarray(g["views"][u, v])


def reference_of(attrs: dict, target: Sequence[int]) -> list[int]:
    """Where the reference of `target` is: the run's fixed view, or frame t-1 for video."""
    ref = attrs.get("reference")
    return [int(target[0]) - 1, 0] if ref == PREVIOUS else [int(ref[0]), int(ref[1])]


def truth(store: str, scene: str, target: Sequence[int]) -> np.ndarray:
    """Ground truth of a target: its HR image cropped to a multiple of the scale."""
    return crop_to_multiple(_image(store, scene, target))


def evaluate_one(store: str, run_id: str, scene: str, index: int) -> dict:
    """Metrics of one done target, stored in its own chunks (runs on a Dask worker)."""
    g = st.run_group(store, run_id, scene)
    target = [int(x) for x in g["targets"][index]]
    sr, hr = np.asarray(g["sr"][index]), truth(store, scene, target)
    scores = {"psnr": metrics.psnr(sr, hr), "psnr_y": metrics.psnr_y(sr, hr), "ssim": metrics.ssim(sr, hr)}
    st.write_metrics(store, run_id, scene, index, **scores)
    return {"index": int(index), "target": target, **scores}


@contextmanager
def dask_client(address: str | None = None, workers: int | None = None, n_jobs: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client on `address` (or $REFSR_DASK_ADDRESS), else on a loopback LocalCluster.

    The local cluster has one single-threaded worker process per core (at most one per job) and
    keeps the scheduler, workers and dashboard on 127.0.0.1.
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
    with _LOCKS_GUARD:
        lock = _LOCKS[device]
    with lock:
        yield


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100]


def reports_dir(store: str, run_id: str, scene: str) -> Path:
    """`<store>.reports/<run_id>/<scene>/`: where the report pictures go, next to the store."""
    root = Path(store)
    return root.parent / f"{root.name}.reports" / run_id / scene


def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


# ---------------------------------------------------------------- tasks

@task(name="ingest-lightfield", cache_policy=NO_CACHE)
def ingest_lightfield(source: str, store: str, scene: str | None = None) -> dict:
    """Ingest a light field ("sample" = the embedded Motorcycle pair) unless it is there unchanged."""
    from refsr.io.lightfield import motorcycle_sample, read_lightfield

    if source == SAMPLE:
        lf, name = motorcycle_sample(), scene or "motorcycle"
    else:
        path = Path(source)
        lf = read_lightfield(path)
        name = scene or (path.stem if path.is_file() else path.resolve().name)
    status = st.ingest_lightfield(store, name, lf)
    get_run_logger().info("scene %s: %s (%s, grid %dx%d)", name, status, lf.reader, *lf.grid)
    return {"scene": name, "status": status}


@task(name="ingest-clip", cache_policy=NO_CACHE)
def ingest_clip(source: str, store: str, clip: str, pass_name: str = "final", frames: int | None = None) -> dict:
    """Ingest one Sintel clip (its first `frames` frames if given) unless it is there unchanged."""
    from refsr.io.sintel import list_clips, read_clip

    numbers = None
    name = clip
    if frames is not None:
        info = list_clips(source).get(clip)
        numbers = info.passes.get(pass_name, [])[:frames] if info else None
        name = f"{clip}-first{frames}"
    data = read_clip(source, clip, pass_name, frames=numbers)
    status = st.ingest_video(store, name, data)
    get_run_logger().info("scene %s: %s (%d frames, %s pass)", name, status, len(data.numbers), pass_name)
    return {"scene": name, "status": status}


def resolve_targets(store: str, scene: str, reference: Sequence[int] | None, targets: Any) -> tuple[Any, list]:
    """(reference, targets) with defaults: light field (0, 0) and [(3, 3)] (or every other view when
    the grid has no (3, 3)); stereo (0, 1) and [(0, 0)]; video `previous` and every frame t >= 1."""
    g = st.scene(store, scene)
    if g.attrs.get("kind") == "video":
        n = g["frames"].shape[0]
        if targets in (None, "all"):
            chosen = [[t, 0] for t in range(1, n)]
        else:
            chosen = [[int(t[0]) if isinstance(t, (list, tuple)) else int(t), 0] for t in targets]
        bad = [t for t, _ in chosen if not 1 <= t < n]
        if bad:
            raise InputError(store, f"scene {scene!r}: frame indices {bad} have no previous frame in 0..{n - 1}")
        return PREVIOUS, chosen
    grid = tuple(g["views"].shape[:2])
    present = np.asarray(g["present"][...]) if "present" in g else np.ones(grid, bool)
    if reference is None:
        reference = [0, 1] if g.attrs.get("kind") == "stereo" else [0, 0]
    reference = [int(reference[0]), int(reference[1])]
    if not (0 <= reference[0] < grid[0] and 0 <= reference[1] < grid[1]) or not present[tuple(reference)]:
        raise InputError(store, f"scene {scene!r}: reference view {tuple(reference)} is not in its "
                                f"{grid[0]}x{grid[1]} grid of present views")
    others = [[u, v] for u in range(grid[0]) for v in range(grid[1]) if [u, v] != reference and present[u, v]]
    if targets == "all" or (targets is None and not (grid[0] > 3 and grid[1] > 3)):
        chosen = others
    elif targets is None:
        chosen = [[3, 3]]
    elif isinstance(targets, str):
        raise InputError("targets", f"expected a list of [u, v] pairs or 'all', got {targets!r}")
    else:
        chosen = [[int(t[0]), int(t[1])] for t in targets]
    if reference in chosen:
        raise InputError("targets", f"the reference view {tuple(reference)} cannot also be a target")
    if not chosen:
        raise InputError(store, f"scene {scene!r} has no target views")
    return reference, chosen


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(store: str, scene: str, reference: Any, targets: Any, method: str, fusion: str | None,
             device: str, run_id: str | None = None) -> dict:
    """Create (or resume) the run group; returns its id, status and the indices still to do."""
    from refsr import methods

    reference, chosen = resolve_targets(store, scene, reference, targets)
    weights = method_weights(method)
    identity = run_identity(method, weights, reference, chosen, fusion if method in FUSION_METHODS else None,
                            {"scale": SCALE})
    run_id = run_id or default_run_id(identity)
    first = _image(store, scene, chosen[0]) if scene_kind(store, scene) == "video" else None
    shape = (first if first is not None else np.asarray(st.scene(store, scene)["views"][reference[0], reference[1]])).shape
    hr_shape = (shape[0] - shape[0] % SCALE, shape[1] - shape[1] % SCALE)
    confidence = method in methods.CONFIDENCE_METHODS
    attrs = {**identity, "device": device}
    status = st.create_run(store, run_id, scene, chosen, hr_shape, attrs, confidence=confidence)
    pending = st.pending_targets(store, run_id, scene)
    get_run_logger().info("run %s/%s: %s, %d of %d targets to do", run_id, scene, status, len(pending), len(chosen))
    return {"run_id": run_id, "scene": scene, "status": status, "pending": pending, "n": len(chosen)}


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

    A target already marked done (resumed run) is skipped.
    """
    from refsr.methods import super_resolve

    g = st.run_group(store, run_id, scene)
    target = [int(x) for x in g["targets"][index]]
    if bool(g["done"][index]):
        return {"index": index, "target": target, "status": "skipped"}
    attrs = dict(g.attrs)
    hr = _image(store, scene, target)
    ref = _image(store, scene, reference_of(attrs, target))
    lr = degrade(hr)
    kwargs: dict[str, Any] = {"fusion": attrs.get("fusion") or "mask", "device": device}
    wants_conf = "confidence" in g
    if wants_conf:
        kwargs["return_confidence"] = True
    with device_slot(device):
        out = super_resolve(lr, ref, attrs["method"], **kwargs)
    sr, conf = out if wants_conf else (out, None)
    st.write_target(store, run_id, scene, index, sr, conf)
    return {"index": index, "target": target, "status": "done"}


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(store: str, jobs: list[dict], dask_address: str | None = None, dask_workers: int | None = None) -> int:
    """PSNR, PSNR-Y and SSIM of every done, not yet evaluated target of `jobs` ({run_id, scene}), Dask-parallel."""
    work = []
    for job in jobs:
        g = st.run_group(store, job["run_id"], job["scene"])
        done, psnr = np.asarray(g["done"][...]), np.asarray(g["psnr"][...])
        work += [(job["run_id"], job["scene"], int(i)) for i in np.flatnonzero(done & np.isnan(psnr))]
    if not work:
        return 0
    with dask_client(dask_address, dask_workers, len(work)) as client:
        futures = client.map(evaluate_one, [store] * len(work), *map(list, zip(*work)), pure=False)
        client.gather(futures)
        workers = len(client.scheduler_info()["workers"])
    get_run_logger().info("evaluated %d targets on %d Dask workers", len(work), workers)
    return len(work)


@task(name="report", cache_policy=NO_CACHE)
def report(store: str, run_id: str, scene: str) -> dict:
    """Table + markdown artifacts (heatmap or per-frame chart, GT / bicubic / result crop) and PNGs on disk."""
    from refsr.io.images import write_image

    g = st.run_group(store, run_id, scene)
    attrs = dict(g.attrs)
    targets = np.asarray(g["targets"][...])
    done = np.asarray(g["done"][...])
    scores = {k: np.asarray(g[k][...]) for k in st.METRICS}
    video = scene_kind(store, scene) == "video"
    rows = [{"target": f"({t[0]}, {t[1]})" if not video else f"frame {t[0]}",
             "reference": str(tuple(reference_of(attrs, t))) if not video else f"frame {t[0] - 1}",
             "done": bool(d), **{k: (round(float(scores[k][i]), 4) if np.isfinite(scores[k][i]) else None)
                                 for k in st.METRICS}}
            for i, (t, d) in enumerate(zip(targets, done))]
    key = _slug(f"refsr-{scene}-{run_id}")
    create_table_artifact(table=rows, key=key + "-table",
                          description=f"PSNR / PSNR-Y / SSIM of run {run_id}, scene {scene} ({attrs.get('method')})")
    out = reports_dir(store, run_id, scene)
    out.mkdir(parents=True, exist_ok=True)
    pictures: list[Path] = []
    psnr = scores["psnr"]
    if video:
        chart = out / "psnr_per_frame.png"
        write_image(chart, chart_picture(psnr))
        pictures.append(chart)
    else:
        grid = tuple(st.scene(store, scene)["views"].shape[:2])
        heat = out / "psnr_heatmap.png"
        write_image(heat, heatmap_picture(grid, targets, psnr, attrs.get("reference")))
        pictures.append(heat)
    finite = np.flatnonzero(np.isfinite(psnr))
    shown = None
    if finite.size:
        shown = int(finite[np.argsort(psnr[finite])[len(finite) // 2]])  # the median target
        hr = truth(store, scene, targets[shown])
        crop = out / "crop_truth_bicubic_result.png"
        write_image(crop, crop_picture([hr, upsample_image(degrade(hr)), np.asarray(g["sr"][shown])]))
        pictures.append(crop)
    lines = [f"# refsr run `{run_id}`, scene `{scene}`", "",
             f"method **{attrs.get('method')}**, reference {attrs.get('reference')}, "
             f"{int(done.sum())}/{len(done)} targets done, device {attrs.get('device')}", ""]
    if finite.size:
        lines += [f"PSNR {np.nanmin(psnr):.2f} .. {np.nanmax(psnr):.2f} dB, mean {np.nanmean(psnr):.2f} dB; "
                  f"mean PSNR-Y {np.nanmean(scores['psnr_y']):.2f} dB, mean SSIM {np.nanmean(scores['ssim']):.4f}", ""]
    if video:
        lines += ["## PSNR per frame (bars from min - 1 dB to max)", "", f"![psnr per frame]({_png_uri(pictures[0])})", ""]
    else:
        lines += ["## PSNR per view (U rows x V columns; dark = low, yellow = high, white = reference, grey = not a target)",
                  "", f"![psnr heatmap]({_png_uri(pictures[0])})", ""]
    if shown is not None:
        t = targets[shown]
        lines += [f"## Ground truth / bicubic / result, centre crop of target ({t[0]}, {t[1]}) "
                  f"(median PSNR {psnr[shown]:.2f} dB)", "", f"![crop]({_png_uri(pictures[-1])})", ""]
    lines += [f"Pictures on disk: `{out}`"]
    create_markdown_artifact(markdown="\n".join(lines), key=key + "-report",
                             description=f"report of run {run_id}, scene {scene}")
    return {"run_id": run_id, "scene": scene, "report_dir": str(out), "pictures": [str(p) for p in pictures],
            "mean_psnr": float(np.nanmean(psnr)) if finite.size else math.nan}


@task(name="finish", cache_policy=NO_CACHE)
def finish(store: str, run_id: str, scene: str) -> str | None:
    """Set the run's `finished` attribute when every target is done and evaluated (else leave it unset)."""
    g = st.run_group(store, run_id, scene)
    if g.attrs.get("finished"):
        return str(g.attrs["finished"])
    if st.pending_targets(store, run_id, scene) or np.isnan(np.asarray(g["psnr"][...])).any():
        return None
    return st.finish_run(store, run_id, scene)
