"""What a super-resolution run of a stored scene is, from its settings to its report.

A run is the group `runs/<run_id>/<scene>` of a store (refsr.store): one SR image, metrics and a
`done` flag per target. What makes it that run is its identity (store.RUN_IDENTITY: method, the
sha256 of its weights, reference, targets, fusion, params); the default run id is a hash of it, so
the same settings resume the same run. Targets and references are (u, v) views of a light field
or stereo pair, or (t, 0) frames of a video, whose reference is always the frame before
(`PREVIOUS`). Reports (PNGs) go to `<store>.reports/<run_id>/<scene>/`, next to the store.

Bad settings (a target outside the grid, a view missing from the source, a frame without a
previous one) are InputErrors raised before a run group is created.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refsr import metrics
from refsr import store as zarr_store
from refsr.degrade import SCALE, crop_to_multiple, degrade, upsample_image
from refsr.errors import InputError
from refsr.io.images import write_image
from refsr.pictures import chart_picture, crop_picture, heatmap_picture

PREVIOUS = "previous"  # the reference of a video target (t, 0): frame t-1
DEMO_STORE = "data/demo.zarr"  # where `make demo`, the light-field flows and `python -m refsr.demo` look by default

Store = str | Path


# ---------------------------------------------------------------- identity

def run_identity(method: str, weights: dict[str, str] | None, reference: Any, targets: Sequence[Sequence[int]],
                 fusion: str | None, params: dict | None = None, ensemble: bool = False, revision: int = 0) -> dict:
    """The attributes that make a run what it is (store.RUN_IDENTITY), as the store gives them back.

    Args:
        method: the method name (refsr.methods.METHODS).
        weights: {network: sha256} of the weights the method uses, None for a method without any.
        reference: the reference view [u, v], or `PREVIOUS` for video.
        targets: the target views [u, v] or frames [t, 0], in run order.
        fusion: the fusion mode, None for a method that does not fuse.
        params: the fixed parameters; default {"scale": SCALE}.
        ensemble: whether the method runs as a flip ensemble (`refsr sr --ensemble`); recorded in
            params only when set, so the identities of the other runs stay what they were.
        revision: the method's `refsr.methods.Method.revision`; recorded in params only when above 0,
            for the same reason.

    Returns:
        A JSON-normalised dict (lists, Python ints) with keys method, weights, reference, targets,
        fusion, params.
    """
    return zarr_store.json_round_trip({"method": method, "weights": weights, "reference": reference,
                                       "targets": [list(map(int, t)) for t in targets], "fusion": fusion,
                                       "params": {**({"scale": SCALE} if params is None else params),
                                                  **({"ensemble": True} if ensemble else {}),
                                                  **({"revision": revision} if revision else {})}})


def default_run_id(identity: dict) -> str:
    """`<method>-<8 hex>`, the sha256 of the identity: the same settings and weights give the same id."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"{identity['method']}-{digest}"


# ---------------------------------------------------------------- references and targets

def scene_kind(store: Store, scene: str) -> str:
    """"lightfield", "stereo" or "video": the `kind` attribute of a stored scene."""
    return str(zarr_store.scene(store, scene).attrs.get("kind"))


def _view_indices(targets: Any) -> list[list[int]]:
    """`targets` as a list of [u, v] int pairs; anything else is an InputError naming the option."""
    try:
        if all(len(t) == 2 for t in targets):
            return [[int(t[0]), int(t[1])] for t in targets]
    except (TypeError, ValueError):
        pass
    raise InputError("targets", f"expected a list of [u, v] pairs or 'all', got {targets!r}")


def _frames(targets: Any) -> list[list[int]]:
    """Video `targets` (frame indices t or pairs [t, 0]) as [t, 0] pairs; anything else is an InputError."""
    try:
        return [[int(t[0]) if isinstance(t, (list, tuple)) else int(t), 0] for t in targets]
    except (TypeError, ValueError, IndexError):
        raise InputError("targets", f"expected a list of frame indices or 'all', got {targets!r}") from None


def _views(views: Sequence[Sequence[int]]) -> str:
    return ", ".join(f"({u}, {v})" for u, v in views)


def resolve_targets(store: Store, scene: str, reference: Sequence[int] | str | None,
                    targets: Any) -> tuple[list[int] | str, list[list[int]]]:
    """The reference and targets of a run of `scene`, defaults applied and every view checked.

    Defaults: light field reference (0, 0) and targets [(3, 3)] (every other present view when the
    grid has no (3, 3)); stereo pair (0, 1) and [(0, 0)]; video `PREVIOUS` and every frame t >= 1.
    `targets="all"` is every present view but the reference, or every frame t >= 1.

    Args:
        store: the store path.
        scene: a scene of the store.
        reference: [u, v] or None for the default (ignored for video: always `PREVIOUS`).
        targets: a list of [u, v] pairs (video: frame indices t or [t, 0]), "all", or None.

    Returns:
        (reference, targets): [u, v] or `PREVIOUS`, and [[u, v], ...] or [[t, 0], ...].

    Raises:
        InputError: for a reference or target outside the grid or missing from the source, a
            target that is also the reference, a frame without a previous frame, malformed
            targets, or no target at all.
    """
    g = zarr_store.scene(store, scene)
    if g.attrs.get("kind") == "video":
        n = g["frames"].shape[0]
        chosen = [[t, 0] for t in range(1, n)] if targets in (None, "all") else _frames(targets)
        bad = [t for t, _ in chosen if not 1 <= t < n]
        if bad:
            raise InputError(store, f"scene {scene!r}: frame indices {bad} have no previous frame in 0..{n - 1}")
        if not chosen:
            raise InputError(store, f"scene {scene!r} has no target frames")
        return PREVIOUS, chosen
    grid = tuple(g["views"].shape[:2])
    present = np.asarray(g["present"][...]) if "present" in g else np.ones(grid, bool)
    if reference is None:
        reference = [0, 1] if g.attrs.get("kind") == "stereo" else [0, 0]
    try:
        reference = [int(reference[0]), int(reference[1])]
    except (TypeError, ValueError, IndexError):
        raise InputError("reference", f"expected a view [u, v], got {reference!r}") from None
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
        chosen = _view_indices(targets)
    outside = [t for t in chosen if not (0 <= t[0] < grid[0] and 0 <= t[1] < grid[1])]
    if outside:
        raise InputError("targets", f"view(s) {_views(outside)} outside the {grid[0]}x{grid[1]} grid of "
                                    f"scene {scene!r} in {store}")
    missing = [t for t in chosen if not present[t[0], t[1]]]
    if missing:
        raise InputError("targets", f"view(s) {_views(missing)} of scene {scene!r} are missing from its source "
                                    f"{g.attrs.get('source', store)}")
    if reference in chosen:
        raise InputError("targets", f"the reference view {tuple(reference)} cannot also be a target")
    if not chosen:
        raise InputError(store, f"scene {scene!r} has no target views")
    return reference, chosen


def reference_of(attrs: dict, target: Sequence[int]) -> list[int]:
    """Where the reference of `target` is: the run's fixed view [u, v], or [t-1, 0] for video.

    Args:
        attrs: the run's attributes (its `reference`: [u, v] or `PREVIOUS`).
        target: [u, v] or [t, 0].
    """
    ref = attrs.get("reference")
    return [int(target[0]) - 1, 0] if ref == PREVIOUS else [int(ref[0]), int(ref[1])]


# ---------------------------------------------------------------- reading a scene

def hr_image(store: Store, scene: str, target: Sequence[int]) -> np.ndarray:
    """The full-resolution view (u, v) or frame (t, 0) of a scene, uint8 (H, W, 3).

    Raises:
        InputError: for a view or frame the scene does not have, or a corrupt chunk (naming its file).
    """
    if scene_kind(store, scene) == "video":
        return zarr_store.read_frame(store, scene, target[0])
    return zarr_store.read_view(store, scene, target[0], target[1])


def truth_image(store: Store, scene: str, target: Sequence[int]) -> np.ndarray:
    """Ground truth of a target: its HR image cropped to a multiple of the scale (the SR size)."""
    return crop_to_multiple(hr_image(store, scene, target))


# ---------------------------------------------------------------- a run's life

def open_run(store: Store, scene: str, identity: dict, device: str, confidence: bool = False,
             run_id: str | None = None) -> dict:
    """Create the run group of `identity` on `scene`, or resume the one that is there.

    Args:
        store: the store path.
        scene: a scene of the store.
        identity: `run_identity` of resolved reference and targets (`resolve_targets`).
        device: where it computes (recorded, not part of the identity).
        confidence: whether the run stores a per-pixel confidence per target.
        run_id: the run id; None for `default_run_id(identity)`.

    Returns:
        {"run_id", "scene", "status" ("created" | "resumed" | "replaced"), "pending" (target
        indices not done yet), "n" (number of targets)}.

    Raises:
        InputError: for targets `resolve_targets` refuses (checked before anything is written), or
            an existing run with this id and other settings.
    """
    resolve_targets(store, scene, identity["reference"], identity["targets"])
    run_id = run_id or default_run_id(identity)
    targets = identity["targets"]
    where = targets[0] if identity["reference"] == PREVIOUS else identity["reference"]
    hr_shape = truth_image(store, scene, where).shape[:2]
    status = zarr_store.create_run(store, run_id, scene, targets, hr_shape, {**identity, "device": device},
                                   confidence=confidence)
    pending = zarr_store.pending_targets(store, run_id, scene)
    return {"run_id": run_id, "scene": scene, "status": status, "pending": pending, "n": len(targets)}


@dataclass(frozen=True)
class TargetInputs:
    """What super-resolving one target of a run takes.

    Attributes:
        index: the target's index in the run.
        target: [u, v] or [t, 0].
        done: whether the run already holds its result (then `lr` and `reference_image` are None).
        method: the run's method.
        fusion: the run's fusion mode (None for a method that does not fuse).
        confidence: whether the run stores a confidence for it.
        ensemble: whether the run's method runs as a flip ensemble (its params say so).
        lr: its HR image degraded x8, uint8 (h, w, 3).
        reference_image: the HR image of its reference view or frame, uint8 (H, W, 3).
    """

    index: int
    target: list[int]
    done: bool
    method: str
    fusion: str | None
    confidence: bool
    ensemble: bool
    lr: np.ndarray | None = None
    reference_image: np.ndarray | None = None


def target_inputs(store: Store, run_id: str, scene: str, index: int) -> TargetInputs:
    """The inputs of target `index` of a run (images read only when it is not done yet).

    A target not done yet is claimed for this process (`refsr.store.claim_target`): while another
    process computes it, this waits and then reports it done, so concurrent identical runs compute
    each target once.
    """
    g = zarr_store.run_group(store, run_id, scene)
    attrs = dict(g.attrs)
    target = [int(x) for x in g["targets"][index]]
    done = bool(g["done"][index]) or not zarr_store.claim_target(store, run_id, scene, index)
    common = dict(index=int(index), target=target, done=done, method=attrs["method"], fusion=attrs.get("fusion"),
                  confidence="confidence" in g, ensemble=bool(attrs.get("params", {}).get("ensemble", False)))
    if done:
        return TargetInputs(**common)
    return TargetInputs(**common, lr=degrade(hr_image(store, scene, target)),
                        reference_image=hr_image(store, scene, reference_of(attrs, target)))


def unevaluated_targets(store: Store, run_id: str, scene: str) -> list[int]:
    """Indices of the targets that are done but have no metrics yet."""
    g = zarr_store.run_group(store, run_id, scene)
    done, psnr = np.asarray(g["done"][...]), np.asarray(g["psnr"][...])
    return [int(i) for i in np.flatnonzero(done & np.isnan(psnr))]


def evaluate_target(store: Store, run_id: str, scene: str, index: int) -> dict:
    """PSNR, PSNR-Y and SSIM of done target `index` against its ground truth, stored in its own chunks.

    Holds the target's evaluation claim (`refsr.store.metrics_claim`) meanwhile; a target whose
    metrics are stored already (another process evaluated it) is not evaluated again: its stored
    scores are returned.

    Returns:
        {"index", "target", "psnr", "psnr_y", "ssim"}.
    """
    g = zarr_store.run_group(store, run_id, scene)
    target = [int(x) for x in g["targets"][index]]
    with zarr_store.metrics_claim(store, run_id, scene, index) as evaluate:
        if not evaluate:
            return {"index": int(index), "target": target, **{k: float(g[k][index]) for k in zarr_store.METRICS}}
        sr, hr = zarr_store.read_array(g["sr"], (int(index),)), truth_image(store, scene, target)
        scores = {"psnr": metrics.psnr(sr, hr), "psnr_y": metrics.psnr_y(sr, hr), "ssim": metrics.ssim(sr, hr)}
        zarr_store.write_metrics(store, run_id, scene, index, **scores)
    return {"index": int(index), "target": target, **scores}


def finish_if_complete(store: Store, run_id: str, scene: str, computed_on: Sequence[str] = ()) -> str | None:
    """Record where targets were computed (`computed_on`: devices) and set the `finished` stamp once every
    target is done and evaluated.

    Returns:
        The stamp (the existing one if the run was finished before), or None while targets are
        pending or unevaluated.
    """
    if computed_on:
        zarr_store.add_computed_on(store, run_id, scene, computed_on)
    g = zarr_store.run_group(store, run_id, scene)
    if g.attrs.get("finished"):
        return str(g.attrs["finished"])
    if zarr_store.pending_targets(store, run_id, scene) or np.isnan(np.asarray(g["psnr"][...])).any():
        return None
    return zarr_store.finish_run(store, run_id, scene)


# ---------------------------------------------------------------- reports

def reports_dir(store: Store, run_id: str, scene: str) -> Path:
    """`<store>.reports/<run_id>/<scene>/`: where a run's report pictures go, next to the store."""
    root = Path(store)
    return root.parent / f"{root.name}.reports" / run_id / scene


def report_pictures(store: Store, run_id: str, scene: str) -> list[Path]:
    """The report PNGs of a run that are on disk, sorted by name."""
    return sorted(reports_dir(store, run_id, scene).glob("*.png"))


def report_key(run_id: str, scene: str) -> str:
    """`refsr-<scene>-<run_id>` as a lowercase slug: the stem of the run's artifact keys."""
    return re.sub(r"[^a-z0-9-]+", "-", f"refsr-{scene}-{run_id}".lower()).strip("-")[:100]


def report_rows(store: Store, run_id: str, scene: str) -> list[dict]:
    """One row per target: target, reference, done, psnr, psnr_y, ssim (4 decimals; None when not evaluated).

    Targets and references read "(u, v)" for views and "frame t" for video.

    Raises:
        InputError: naming the first damaged file of the run (as `refsr info` lists them).
    """
    info = zarr_store.inspect_run(store, run_id, scene)
    if info["problems"]:
        raise InputError(info["problems"][0]["path"], info["problems"][0]["problem"])
    video = scene_kind(store, scene) == "video"
    rows = []
    for row in info["targets"]:
        t = row["target"]
        rows.append({"target": f"frame {t[0]}" if video else f"({t[0]}, {t[1]})",
                     "reference": f"frame {t[0] - 1}" if video else str(tuple(reference_of(info, t))),
                     "done": row["done"],
                     **{k: None if row[k] is None else round(row[k], 4) for k in zarr_store.METRICS}})
    return rows


@dataclass(frozen=True)
class Report:
    """A run's report: the table rows, the markdown (pictures inlined) and the PNGs on disk.

    Attributes:
        run_id: the run.
        scene: its scene.
        method: its method.
        rows: `report_rows`.
        markdown: the report text, pictures inlined as data URIs.
        directory: `reports_dir`, where the pictures are.
        pictures: the PNGs written: the PSNR heatmap (views) or chart (frames), then the crop
            of the median target when any target is evaluated.
        mean_psnr: mean PSNR over the evaluated targets (NaN when none is).
    """

    run_id: str
    scene: str
    method: str | None
    rows: list[dict]
    markdown: str
    directory: Path
    pictures: list[Path]
    mean_psnr: float


def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def write_report(store: Store, run_id: str, scene: str) -> Report:
    """Write a run's report pictures to `reports_dir` and return its rows and markdown.

    Pictures: a U x V PSNR heatmap (views) or a PSNR per frame chart (video), and the same centre
    crop of ground truth / bicubic / result of the target with the median PSNR.
    """
    g = zarr_store.run_group(store, run_id, scene)
    attrs = dict(g.attrs)
    targets, done = np.asarray(g["targets"][...]), np.asarray(g["done"][...])
    scores = {k: np.asarray(g[k][...]) for k in zarr_store.METRICS}
    psnr = scores["psnr"]
    video = scene_kind(store, scene) == "video"
    out = reports_dir(store, run_id, scene)
    out.mkdir(parents=True, exist_ok=True)
    if video:
        overview = out / "psnr_per_frame.png"
        write_image(overview, chart_picture(psnr))
    else:
        grid = tuple(zarr_store.scene(store, scene)["views"].shape[:2])
        overview = out / "psnr_heatmap.png"
        write_image(overview, heatmap_picture(grid, targets, psnr, attrs.get("reference")))
    pictures = [overview]
    finite = np.flatnonzero(np.isfinite(psnr))
    median = None
    if finite.size:
        median = int(finite[np.argsort(psnr[finite])[len(finite) // 2]])
        hr = truth_image(store, scene, targets[median])
        crop = out / "crop_truth_bicubic_result.png"
        write_image(crop, crop_picture([hr, upsample_image(degrade(hr)), np.asarray(g["sr"][median])]))
        pictures.append(crop)

    lines = [f"# refsr run `{run_id}`, scene `{scene}`", "",
             f"method **{attrs.get('method')}**, reference {attrs.get('reference')}, "
             f"{int(done.sum())}/{len(done)} targets done, device {attrs.get('device')}", ""]
    if finite.size:
        lines += [f"PSNR {np.nanmin(psnr):.2f} .. {np.nanmax(psnr):.2f} dB, mean {np.nanmean(psnr):.2f} dB; "
                  f"mean PSNR-Y {np.nanmean(scores['psnr_y']):.2f} dB, mean SSIM {np.nanmean(scores['ssim']):.4f}", ""]
    if video:
        lines += ["## PSNR per frame (bars from min - 1 dB to max)", "", f"![psnr per frame]({_png_uri(overview)})", ""]
    else:
        lines += ["## PSNR per view (U rows x V columns; dark = low, yellow = high, white = reference, "
                  "grey = not a target)", "", f"![psnr heatmap]({_png_uri(overview)})", ""]
    if median is not None:
        t = targets[median]
        lines += [f"## Ground truth / bicubic / result, centre crop of target ({t[0]}, {t[1]}) "
                  f"(median PSNR {psnr[median]:.2f} dB)", "", f"![crop]({_png_uri(pictures[-1])})", ""]
    lines += [f"Pictures on disk: `{out}`"]
    return Report(run_id=run_id, scene=scene, method=attrs.get("method"), rows=report_rows(store, run_id, scene),
                  markdown="\n".join(lines), directory=out, pictures=pictures,
                  mean_psnr=float(np.nanmean(psnr)) if finite.size else math.nan)


# ---------------------------------------------------------------- finished runs

def latest_finished_run(store: Store, scene: str) -> str:
    """Id of the scene's most recently finished run (ties: the greatest id).

    Raises:
        InputError: when the scene has no finished run.
    """
    finished = []
    for run_id, name in zarr_store.run_names(store):
        if name == scene:
            stamp = zarr_store.run_group(store, run_id, scene).attrs.get("finished")
            if stamp:
                finished.append((str(stamp), run_id))
    if not finished:
        raise InputError(store, f"no finished run of scene {scene!r}")
    return max(finished)[1]


# ---------------------------------------------------------------- reprocessing

def run_configs(store: Store, scene: str) -> list[dict]:
    """The distinct {"reference", "targets"} of the scene's runs, in run order; none yet = the defaults (None)."""
    seen, configs = set(), []
    for run_id, name in zarr_store.run_names(store):
        if name != scene:
            continue
        attrs = zarr_store.run_group(store, run_id, scene).attrs
        config = {"reference": attrs.get("reference"), "targets": attrs.get("targets")}
        if repr(config) not in seen:
            seen.add(repr(config))
            configs.append(config)
    return configs or [{"reference": None, "targets": None}]


def up_to_date(store: Store, scene: str, identity: dict) -> tuple[bool, str | None]:
    """Whether the scene has a finished run with `identity`, and the run to use.

    Returns:
        (True, that finished run's id), or (False, the id of an unfinished run with `identity` to
        resume, or None when there is none).
    """
    resume = None
    for run_id, name in zarr_store.run_names(store):
        if name != scene:
            continue
        attrs = zarr_store.run_group(store, run_id, scene).attrs
        if zarr_store.run_identity_of(attrs) == zarr_store.run_identity_of(identity):
            if attrs.get("finished"):
                return True, run_id
            resume = run_id
    return False, resume
