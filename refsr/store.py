"""The Zarr v3 store of conventions.md: ingested scenes and SR runs, never half-written.

Layout: `scenes/<scene>/` (views or frames + ground truth) and `runs/<run_id>/<scene>/` (one
`sr` chunk per target, metrics, a `done` flag per target). A scene or a run group is written
under a hidden temporary name (`.tmp-...`) next to its final place and renamed into place only
when complete. `source_sha256` is the sha256 of the decoded arrays as stored (name, dtype, shape
and bytes of each, in name order): it ignores file encoding and paths, and it can be re-checked
from the store alone (`scene_sha256`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from refsr import __version__
from refsr.errors import InputError

SCENES, RUNS = "scenes", "runs"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Attributes that make a run what it is; a resumed run must agree on all of them.
RUN_IDENTITY = ("method", "weights", "reference", "fusion", "params", "targets")
METRICS = ("psnr", "psnr_y", "ssim")

StoreLike = str | Path | zarr.Group


# ---------------------------------------------------------------- helpers

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def json_round_trip(value: Any) -> Any:
    """Normalise to what JSON attributes give back (tuples -> lists, numpy scalars -> Python)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def check_name(what: str, name: str) -> str:
    """Return `name` if it is a safe group name (letters, digits, `_.-`, not starting with `.`)."""
    if not _NAME.match(name):
        raise InputError(name, f"invalid {what} name: use letters, digits, '_', '.', '-' (not a leading '.')")
    return name


def content_sha256(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over name, dtype, shape and bytes of each array, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _root(store: str | Path) -> Path:
    return Path(store)


def _is_group(path: Path) -> bool:
    try:
        return json.loads((path / "zarr.json").read_text()).get("node_type") == "group"
    except (OSError, ValueError):
        return False


def _ensure_group(path: Path) -> None:
    """Create an empty Zarr v3 group at `path` unless one is there (parents must be groups already)."""
    if not _is_group(path):
        zarr.open_group(str(path), mode="a", zarr_format=3)


def _ensure_store(root: Path) -> None:
    """Make `root` a refsr store (root, `scenes` and `runs` groups); refuse a non-Zarr folder."""
    if root.exists() and not _is_group(root):
        if not root.is_dir() or any(root.iterdir()):
            raise InputError(root, "exists but is not a Zarr v3 store")
    _ensure_group(root)
    _ensure_group(root / SCENES)
    _ensure_group(root / RUNS)


@contextmanager
def _staged(final: Path) -> Iterator[zarr.Group]:
    """Yield a new group under a hidden temporary name next to `final`; rename it into place on success.

    An existing `final` is replaced (moved aside, then deleted) only after the new group is complete.
    """
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        yield zarr.open_group(str(tmp), mode="w-", zarr_format=3)
        if final.exists():
            old = final.parent / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, old)
            try:
                os.rename(tmp, final)
            except BaseException:
                os.rename(old, final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _add_array(group: zarr.Group, name: str, data: np.ndarray, dims: Sequence[str],
               chunks: Sequence[int] | None = None, fill_value: Any = 0) -> None:
    """Create `name` with `dimension_names` and write `data` (never sharded)."""
    data = np.asarray(data)
    array = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=tuple(chunks or data.shape),
                               dimension_names=tuple(dims), fill_value=fill_value)
    array[...] = data


# ---------------------------------------------------------------- opening and reading

def open_store(path: str | Path, mode: str = "r") -> zarr.Group:
    """Open an existing store; mode "r" (default) refuses every write, "r+" allows them."""
    root = Path(path)
    if not root.exists():
        raise InputError(root, "no such store")
    if not _is_group(root):
        raise InputError(root, "not a Zarr v3 store (no group zarr.json)")
    return zarr.open_group(str(root), mode=mode)


def _group(store: StoreLike) -> zarr.Group:
    return store if isinstance(store, zarr.Group) else open_store(store, "r")


def _visible(group: zarr.Group) -> list[str]:
    return sorted(k for k in group.group_keys() if not k.startswith("."))


def scene_names(store: StoreLike) -> list[str]:
    """Names of the complete scenes in the store, sorted."""
    g = _group(store)
    return _visible(g[SCENES]) if SCENES in g else []


def run_names(store: StoreLike) -> list[tuple[str, str]]:
    """(run_id, scene) of every run group in the store, sorted."""
    g = _group(store)
    if RUNS not in g:
        return []
    return [(r, s) for r in _visible(g[RUNS]) for s in _visible(g[f"{RUNS}/{r}"])]


def scene(store: StoreLike, name: str) -> zarr.Group:
    """The group `scenes/<name>`; a missing scene is an InputError naming the store."""
    g = _group(store)
    key = f"{SCENES}/{name}"
    if name.startswith(".") or key not in g:
        raise InputError(g.store.root if hasattr(g.store, "root") else str(g.store),
                         f"no scene {name!r} (scenes: {', '.join(scene_names(g)) or 'none'})")
    return g[key]


def read_view(store: StoreLike, name: str, u: int, v: int) -> np.ndarray:
    """View (u, v) of a light-field or stereo scene as uint8 (H, W, 3)."""
    return np.asarray(scene(store, name)["views"][u, v])


def read_frame(store: StoreLike, name: str, t: int) -> np.ndarray:
    """Frame at index t (not the Sintel frame number; see `frame_numbers`) as uint8 (H, W, 3)."""
    return np.asarray(scene(store, name)["frames"][t])


def scene_sha256(store: StoreLike, name: str) -> str:
    """Recompute the content hash of a stored scene (equals its `source_sha256` when intact)."""
    g = scene(store, name)
    return content_sha256({k: np.asarray(g[k][...]) for k in g.array_keys()})


# ---------------------------------------------------------------- ingesting scenes

def _ingest(store: str | Path, name: str, arrays: dict[str, tuple], attrs: dict[str, Any],
            overwrite: bool) -> str:
    """Write scene `name` all-or-nothing; returns "ingested", "replaced" or "unchanged"."""
    root = _root(store)
    check_name("scene", name)
    sha = content_sha256({k: spec[0] for k, spec in arrays.items()})
    final = root / SCENES / name
    replaced = _is_group(final)
    if replaced:
        old = zarr.open_group(str(final), mode="r").attrs.get("source_sha256")
        if old == sha:
            return "unchanged"
        if not overwrite:
            raise InputError(root, f"scene {name!r} already exists with different content "
                                   f"(source_sha256 {str(old)[:12]}… vs {sha[:12]}…); "
                                   "ask to overwrite it (--overwrite) or choose another name")
    existed = root.exists()
    try:
        _ensure_store(root)
        with _staged(final) as g:
            for key, (data, dims, chunks, fill) in arrays.items():
                _add_array(g, key, data, dims, chunks, fill)
            g.attrs.update(json_round_trip({**attrs, "source_sha256": sha, "ingested_at": _now(),
                                            "refsr_version": __version__}))
    except BaseException:
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return "replaced" if replaced else "ingested"


def lightfield_kind(lf: Any) -> str:
    """"stereo" for a stereo pair (reader "stereo"), else "lightfield"."""
    return "stereo" if getattr(lf, "reader", "") == "stereo" else "lightfield"


def ingest_lightfield(store: str | Path, name: str, lf: Any, overwrite: bool = False) -> str:
    """Store a `refsr.io.lightfield.LightField` as scene `name` (views one chunk each)."""
    views = np.asarray(lf.views)
    if views.dtype != np.uint8 or views.ndim != 5 or views.shape[-1] != 3:
        raise ValueError(f"views must be uint8 (U, V, H, W, 3), got {views.dtype} {views.shape}")
    u, v, h, w, _ = views.shape
    arrays: dict[str, tuple] = {
        "views": (views, ("u", "v", "y", "x", "c"), (1, 1, h, w, 3), 0),
        "present": (np.asarray(lf.present, bool), ("u", "v"), None, False),
    }
    attrs: dict[str, Any] = {"kind": lightfield_kind(lf), "source": str(lf.source), "reader": lf.reader,
                             "grid": [u, v]}
    if lf.disparity is not None:
        arrays["disparity"] = (np.asarray(lf.disparity, np.float32), ("y", "x"), None, float("nan"))
        attrs["disparity_view"] = list(lf.disparity_view) if lf.disparity_view is not None else None
    return _ingest(store, name, arrays, attrs, overwrite)


def _stack_by_number(numbers: list[int], maps: dict[int, np.ndarray], shape: tuple, dtype: Any,
                     fill: Any, what: str) -> np.ndarray:
    out = np.full((len(numbers), *shape), fill, dtype=dtype)
    index = {n: i for i, n in enumerate(numbers)}
    for n, m in maps.items():
        if n not in index:
            raise ValueError(f"{what} for frame {n}, which is not among the frames {numbers}")
        out[index[n]] = m
    return out


def ingest_video(store: str | Path, name: str, clip: Any, overwrite: bool = False) -> str:
    """Store a `refsr.io.sintel.SintelClip` as scene `name`: frames one chunk each, flow NaN where absent.

    Occlusion/invalid masks are False where a frame has none; attrs `flow_frames`,
    `occlusion_frames`, `invalid_frames` list the frame numbers that do have them.
    """
    frames = np.asarray(clip.frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    numbers = [int(n) for n in clip.numbers]
    flow = _stack_by_number(numbers, clip.flow, (h, w, 2), np.float32, np.nan, "flow")
    occ = _stack_by_number(numbers, clip.occlusions, (h, w), bool, False, "occlusions")
    inv = _stack_by_number(numbers, clip.invalid, (h, w), bool, False, "invalid")
    arrays: dict[str, tuple] = {
        "frames": (frames, ("t", "y", "x", "c"), (1, h, w, 3), 0),
        "flow": (flow, ("t", "y", "x", "uv"), (1, h, w, 2), float("nan")),
        "occlusions": (occ, ("t", "y", "x"), (1, h, w), False),
        "invalid": (inv, ("t", "y", "x"), (1, h, w), False),
        "frame_numbers": (np.asarray(numbers, np.int32), ("t",), None, 0),
    }
    attrs = {"kind": "video", "source": str(clip.source), "reader": "sintel", "pass": clip.pass_name,
             "frames": t, "flow_frames": sorted(clip.flow), "occlusion_frames": sorted(clip.occlusions),
             "invalid_frames": sorted(clip.invalid)}
    return _ingest(store, name, arrays, attrs, overwrite)


# ---------------------------------------------------------------- runs

def _run_path(store: str | Path, run_id: str, scene_name: str) -> Path:
    return _root(store) / RUNS / check_name("run", run_id) / check_name("scene", scene_name)


def run_group(store: StoreLike, run_id: str, scene_name: str, mode: str = "r") -> zarr.Group:
    """The group `runs/<run_id>/<scene>` (mode "r" or "r+"); a missing run is an InputError."""
    if isinstance(store, zarr.Group):
        key = f"{RUNS}/{run_id}/{scene_name}"
        if key not in store:
            raise InputError(str(store.store), f"no run {run_id!r} for scene {scene_name!r}")
        return store[key]
    path = _run_path(store, run_id, scene_name)
    if not _is_group(path):
        raise InputError(store, f"no run {run_id!r} for scene {scene_name!r}")
    return zarr.open_group(str(path), mode=mode)


def create_run(store: str | Path, run_id: str, scene_name: str, targets: Sequence[Sequence[int]],
               hr_shape: Sequence[int], attrs: dict[str, Any], confidence: bool = False,
               overwrite: bool = False) -> str:
    """Create `runs/<run_id>/<scene>` all-or-nothing; returns "created", "resumed" or "replaced".

    `attrs` holds method, weights, reference, fusion, device, params. An existing run with the same
    identity (RUN_IDENTITY, shape, confidence) is resumed and keeps its finished targets; a different
    one is refused unless `overwrite`.
    """
    root = _root(store)
    scene(root, scene_name)  # the scene must be in the store
    h, w = int(hr_shape[0]), int(hr_shape[1])
    targets = np.asarray(targets, dtype=np.int32).reshape(-1, 2)
    n = len(targets)
    if n == 0:
        raise ValueError("a run needs at least one target")
    want = json_round_trip({**{k: attrs.get(k) for k in RUN_IDENTITY}, "targets": targets.tolist()})
    path = _run_path(root, run_id, scene_name)
    existed = _is_group(path)
    if existed:
        old = zarr.open_group(str(path), mode="r")
        same = ({k: old.attrs.get(k) for k in RUN_IDENTITY} == want
                and old["sr"].shape == (n, h, w, 3) and ("confidence" in old) == confidence)
        if same:
            return "resumed"
        if not overwrite:
            raise InputError(root, f"run {run_id!r} of scene {scene_name!r} exists with other settings; "
                                   "choose another run id or ask to overwrite it")
    _ensure_group(root / RUNS / run_id)
    with _staged(path) as g:
        g.create_array("sr", shape=(n, h, w, 3), chunks=(1, h, w, 3), dtype="uint8", fill_value=0,
                       dimension_names=("target", "y", "x", "c"))
        if confidence:
            g.create_array("confidence", shape=(n, h, w), chunks=(1, h, w), dtype="float16",
                           fill_value=0.0, dimension_names=("target", "y", "x"))
        for key in METRICS:
            g.create_array(key, shape=(n,), chunks=(1,), dtype="float64", fill_value=float("nan"),
                           dimension_names=("target",))
        g.create_array("done", shape=(n,), chunks=(1,), dtype="bool", fill_value=False,
                       dimension_names=("target",))
        _add_array(g, "targets", targets, ("target", "pair"))
        g.attrs.update(json_round_trip({**attrs, **want, "scene": scene_name, "started": _now(),
                                        "finished": None, "refsr_version": __version__}))
    return "replaced" if existed else "created"


def write_target(store: str | Path, run_id: str, scene_name: str, index: int, sr: np.ndarray,
                 confidence: np.ndarray | None = None) -> None:
    """Write target `index`'s SR image (one whole chunk, plus its confidence), then mark it done."""
    g = run_group(store, run_id, scene_name, "r+")
    shape = g["sr"].shape[1:]
    sr = np.asarray(sr)
    if sr.dtype != np.uint8 or sr.shape != shape:
        raise ValueError(f"sr must be uint8 {shape}, got {sr.dtype} {sr.shape}")
    g["sr"][index] = sr
    if confidence is not None:
        if "confidence" not in g:
            raise ValueError(f"run {run_id!r} was created without a confidence array")
        g["confidence"][index] = np.asarray(confidence, np.float16)
    g["done"][index] = True


def write_metrics(store: str | Path, run_id: str, scene_name: str, index: int,
                  psnr: float, psnr_y: float, ssim: float) -> None:
    """Store the metrics of target `index` (each its own one-element chunk)."""
    g = run_group(store, run_id, scene_name, "r+")
    for key, value in zip(METRICS, (psnr, psnr_y, ssim)):
        g[key][index] = float(value)


def pending_targets(store: StoreLike, run_id: str, scene_name: str) -> list[int]:
    """Indices of the targets not yet marked done."""
    done = np.asarray(run_group(store, run_id, scene_name)["done"][...])
    return [int(i) for i in np.flatnonzero(~done)]


def read_target(store: StoreLike, run_id: str, scene_name: str, index: int) -> np.ndarray:
    """The SR image of target `index` as uint8 (H, W, 3)."""
    return np.asarray(run_group(store, run_id, scene_name)["sr"][index])


def finish_run(store: str | Path, run_id: str, scene_name: str) -> str:
    """Set the run's `finished` attribute (last step); refuses while targets are pending."""
    missing = pending_targets(store, run_id, scene_name)
    if missing:
        raise ValueError(f"run {run_id!r} of scene {scene_name!r} has unfinished targets {missing}")
    stamp = _now()
    run_group(store, run_id, scene_name, "r+").attrs["finished"] = stamp
    return stamp


# ---------------------------------------------------------------- describing

def _array_line(name: str, array: Any) -> str:
    dims = array.metadata.dimension_names or tuple(f"dim{i}" for i in range(array.ndim))
    shape = ", ".join(f"{d}={s}" for d, s in zip(dims, array.shape))
    return f"    {name:<14}{str(array.dtype):<9}({shape})"


def _scene_lines(name: str, g: zarr.Group) -> list[str]:
    a = g.attrs
    if a.get("kind") == "video":
        size = f"frames={a.get('frames')}  frame {g['frames'].shape[1]}x{g['frames'].shape[2]} (HxW)"
        extra = f"  pass={a.get('pass')}  flow frames={a.get('flow_frames')}"
    else:
        size = f"grid={'x'.join(map(str, a.get('grid', [])))}  view {g['views'].shape[2]}x{g['views'].shape[3]} (HxW)"
        extra = f"  disparity of view {tuple(a['disparity_view'])}" if a.get("disparity_view") else ""
    lines = [f"  {name}  kind={a.get('kind')}  {size}{extra}",
             f"    source={a.get('source')}  reader={a.get('reader')}  sha256={str(a.get('source_sha256'))[:12]}…"
             f"  ingested {a.get('ingested_at')}"]
    return lines + [_array_line(k, g[k]) for k in sorted(g.array_keys())]


def _fmt(x: float, digits: int) -> str:
    return "-" if np.isnan(x) else f"{x:.{digits}f}"


INFO_ROWS = 12  # targets per run that `refsr info` lists unless asked for all


def _run_lines(run_id: str, scene_name: str, g: zarr.Group, max_rows: int | None = INFO_ROWS) -> list[str]:
    a = g.attrs
    targets = np.asarray(g["targets"][...])
    done = np.asarray(g["done"][...])
    metrics = {k: np.asarray(g[k][...]) for k in METRICS}
    state = f"finished {a['finished']}" if a.get("finished") else "not finished"
    lines = [f"  {run_id}/{scene_name}  method={a.get('method')}  reference={a.get('reference')}  "
             f"device={a.get('device')}  done {int(done.sum())}/{len(done)}  {state}",
             _array_line("sr", g["sr"])]
    lines.append(f"    {'target':<10}{'done':<6}{'PSNR':>8}{'PSNR-Y':>8}{'SSIM':>8}")
    shown = len(targets) if max_rows is None else min(len(targets), max_rows)
    for i in range(shown):
        t = f"({targets[i, 0]}, {targets[i, 1]})"
        lines.append(f"    {t:<10}{'yes' if done[i] else 'no':<6}{_fmt(metrics['psnr'][i], 2):>8}"
                     f"{_fmt(metrics['psnr_y'][i], 2):>8}{_fmt(metrics['ssim'][i], 4):>8}")
    if len(targets) > shown:
        lines.append(f"    … {len(targets) - shown} more targets (refsr info --all lists them)")
    if np.isfinite(metrics["psnr"]).any():
        means = [float(np.nanmean(metrics[k])) for k in METRICS]
        lines.append(f"    {'mean':<16}{_fmt(means[0], 2):>8}{_fmt(means[1], 2):>8}{_fmt(means[2], 4):>8}")
    return lines


def describe(store: StoreLike, max_rows: int | None = INFO_ROWS) -> str:
    """What `refsr info` prints: scenes (kind, grid or frames, arrays with dims) and runs with metrics.

    Each run lists its first `max_rows` targets (None: all of them).
    """
    g = _group(store)
    where = getattr(g.store, "root", g.store)
    scenes = scene_names(g)
    runs = run_names(g)
    lines = [f"store {where} (Zarr v{g.metadata.zarr_format})", f"scenes: {len(scenes)}"]
    for name in scenes:
        lines += _scene_lines(name, g[f"{SCENES}/{name}"])
    lines.append(f"runs: {len(runs)}")
    for run_id, scene_name in runs:
        lines += _run_lines(run_id, scene_name, g[f"{RUNS}/{run_id}/{scene_name}"], max_rows)
    return "\n".join(lines)
