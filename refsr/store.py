"""The Zarr v3 store (README, "The Zarr store"): ingested scenes and SR runs, never half-written.

Layout: `scenes/<scene>/` (views or frames + ground truth) and `runs/<run_id>/<scene>/` (one
`sr` chunk per target, metrics, a `done` flag per target); `.refsr/` holds the store lock and the
per-target claims (not Zarr data). `source_sha256` is the sha256 of the decoded arrays as stored
(name, dtype, shape and bytes of each, in name order): it ignores file encoding and paths, and it
can be re-checked from the store alone (`scene_sha256`).

What is guaranteed, with several processes writing one store and any of them interrupted (SIGINT,
SIGTERM, kill -9) at any point:

- A new store appears complete or not at all: it is built under `.<store>.tmp-<hex>` next to its
  final place and renamed into place.
- A scene or a run group is written under a hidden staging name (`.tmp-<name>-<hex>`) and put in
  place by one rename, or by one atomic exchange with the folder it replaces: readers see the old
  folder or the new one, never a mix. A chunk or metadata file is replaced atomically (Zarr).
- Putting scenes and run groups in place happens under the store lock (`.refsr/lock`, flock), so
  of two processes ingesting one scene, the second finds it there (`unchanged`) or refuses; a
  scene that unfinished runs read is never replaced.
- A target's `done` flag is written after its SR image, `psnr` after the other metrics, and a
  run's `finished` last: each marks work that is complete.
- A target is computed by one process at a time (`claim_target`, `metrics_claim`): a second
  process waits for it and then skips it, so identical concurrent runs do the work once.
- Staging folders of killed writers are unlocked, hence told apart from live ones; the next write
  removes them (`staging_folders` lists them for `refsr info`), and likewise the temporary copies
  that Zarr's atomic file writes leave in run groups when killed (`partial_chunks`).
- In the main thread, SIGINT and SIGTERM stop a write between two chunk rows (never inside Zarr
  I/O); the staging folder is removed and the interrupt raised.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.storage import LocalStore

from refsr import __version__
from refsr.errors import InputError
from refsr.io.atomic import (checkpoint, deferred_interrupts, exchange, file_lock, is_staging, remove_if_stale,
                             restore_set_aside, staged_folder, staging_is_live, try_lock)

SCENES, RUNS = "scenes", "runs"
LOCKS = ".refsr"  # the store lock and the claims; hidden, not Zarr
EVERY_CHUNK = "every_chunk_stored"  # scene attribute: every chunk is on disk, so a missing one is damage
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_CHUNK_KEY = re.compile(r"(^|/)c(/\d+)+$")
# Attributes that make a run what it is; a resumed run must agree on all of them.
RUN_IDENTITY = ("method", "weights", "reference", "fusion", "params", "targets")
METRICS = ("psnr", "psnr_y", "ssim")
CLAIM_POLL_S = 0.2  # how often a process waiting for another's claim looks again
# Zarr writes each file as `<name>.<hex>.partial` and renames it; writing one takes milliseconds, so
# an older one was left by a killed writer.
PARTIAL_AGE_S = 60.0

log = logging.getLogger(__name__)

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


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _node(path: Path) -> dict | None:
    """The parsed `zarr.json` of folder `path`; None where there is none; InputError where it is corrupt."""
    meta = path / "zarr.json"
    try:
        text = meta.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        node = json.loads(text)
        if not isinstance(node, dict) or node.get("node_type") not in ("group", "array"):
            raise ValueError("no node_type group or array")
    except ValueError as err:
        raise InputError(meta, f"corrupt Zarr metadata ({_one_line(err)})") from None
    return node


def _is_group(path: Path) -> bool:
    try:
        node = _node(path)
    except InputError:
        return False
    return node is not None and node.get("node_type") == "group"


def _children(folder: Path, problems: list[dict] | None = None) -> list[str]:
    """Names of the groups in `folder` (not hidden), sorted; a corrupt one goes to `problems` or raises."""
    try:
        entries = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return []
    names = []
    for name in entries:
        try:
            node = _node(folder / name)
        except InputError as err:
            if problems is None:
                raise
            problems.append({"path": err.path, "problem": err.problem})
            continue
        if node is not None and node.get("node_type") == "group":
            names.append(name)
    return names


def _store_root(g: zarr.Group) -> Path:
    """The folder of group `g` (a Zarr LocalStore)."""
    return Path(g.store.root) / g.path if g.path else Path(g.store.root)


def _every_chunk(array: zarr.Array) -> zarr.Array:
    """`array` writing every chunk, even one equal to the fill value, so that a missing chunk means damage."""
    return array.with_config({"write_empty_chunks": True})


# ---------------------------------------------------------------- the store lock and staging folders

@contextmanager
def store_lock(root: str | Path) -> Iterator[None]:
    """Hold the store's inter-process lock (`.refsr/lock`): scene swaps and run creation take it."""
    folder = Path(root) / LOCKS
    folder.mkdir(exist_ok=True)
    with file_lock(folder / "lock"):
        yield


def _staging_places(root: Path) -> list[Path]:
    runs = root / RUNS
    try:
        run_folders = [runs / e.name for e in os.scandir(runs) if e.is_dir() and not e.name.startswith(".")]
    except FileNotFoundError:
        run_folders = []
    return [root / SCENES, runs, *sorted(run_folders)]


def staging_folders(store: str | Path) -> list[tuple[Path, bool]]:
    """(path, live) of every staging folder of the store and of half-made copies of it next to it.

    A live one is being written by a running process; the others are leftovers of killed writers,
    removed by the next write.
    """
    root = Path(store)
    found = []
    for place in _staging_places(root):
        try:
            found += [place / e.name for e in os.scandir(place) if e.is_dir() and is_staging(e.name)]
        except FileNotFoundError:
            pass
    found += sorted(root.parent.glob(f".{root.name}.tmp-*"))
    return [(p, staging_is_live(p)) for p in found]


def partial_chunks(store: str | Path) -> list[Path]:
    """Temporary copies of chunk or metadata files (`*.partial`) in the run groups, left by killed writers.

    Zarr writes every file under such a name and renames it into place; one older than
    `PARTIAL_AGE_S` belongs to no write in progress. Scenes need no such check: they are written in
    staging folders.
    """
    now = time.time()
    stale = []
    for path in sorted((Path(store) / RUNS).rglob("*.partial")):
        try:
            if now - path.stat().st_mtime > PARTIAL_AGE_S:
                stale.append(path)
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return stale


def _clean_stale(root: Path) -> None:
    """Remove the staging folders and partial files of killed writers; restore a scene moved aside by a
    killed swap.

    Call it holding `store_lock`: swaps happen under it, so a `.old-` folder is never in use then.
    """
    for place in _staging_places(root):
        if place.is_dir():
            restore_set_aside(place)
    for path, live in staging_folders(root):
        if not live:
            remove_if_stale(path)
    for path in partial_chunks(root):
        path.unlink(missing_ok=True)


def _abandoned(root: Path) -> bool:
    """Whether folder `root` holds nothing but the skeleton and staging folders of an unfinished store."""
    try:
        top = {e.name for e in os.scandir(root)}
        if not top or "zarr.json" in top or not top <= {SCENES, RUNS, LOCKS}:
            return False
        for sub in top & {SCENES, RUNS}:
            rest = [e.name for e in os.scandir(root / sub) if e.name != "zarr.json"]
            if any(not is_staging(n) or staging_is_live(root / sub / n) for n in rest):
                return False
    except NotADirectoryError:
        return False
    return True


def _check_store(root: Path) -> None:
    """Refuse a `root` that is neither a store, nor absent, nor an empty folder (or an abandoned one)."""
    if not root.exists():
        return
    node = _node(root)  # a corrupt zarr.json is an InputError naming it
    if node is not None and node.get("node_type") == "group":
        return
    if not root.is_dir():
        raise InputError(root, "exists but is not a Zarr v3 store (not a folder)")
    if any(root.iterdir()) and not _abandoned(root):
        raise InputError(root, "exists but is not a Zarr v3 store (no group zarr.json)")


def _init_store(path: Path) -> None:
    """Make empty folder `path` an empty store: root, `scenes` and `runs` groups, the lock folder."""
    g = zarr.open_group(str(path), mode="w-", zarr_format=3)
    g.create_group(SCENES)
    g.create_group(RUNS)
    (path / LOCKS).mkdir()


@contextmanager
def _staged_store(root: Path) -> Iterator[Path]:
    """An empty store staged next to `root` as `.<name>.tmp-<hex>`, locked by this process for the block."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with staged_folder(root.parent, f".{root.name}.tmp-") as tmp:
        _init_store(tmp)
        yield tmp


def _put_store(staged: Path, root: Path) -> bool:
    """Rename staged store `staged` onto `root` (absent or an empty folder); False if `root` is a store by now.

    Creators of stores in one folder take turns on that folder's lock for the check and the rename.
    """
    checkpoint()
    with file_lock(root.parent):
        for other in root.parent.glob(f".{root.name}.tmp-*"):
            if other != staged:
                remove_if_stale(other)  # half-made copies of killed creators
        if _is_group(root):
            return False
        if root.is_dir() and _abandoned(root):
            _remove_abandoned(root)
        os.rename(staged, root)
    return True


def _remove_abandoned(root: Path) -> None:
    for sub in (SCENES, RUNS):
        for path in (root / sub).glob(".*"):
            remove_if_stale(path)
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


# ---------------------------------------------------------------- opening and reading

def open_store(path: str | Path, mode: str = "r") -> zarr.Group:
    """Open an existing store; mode "r" (default) refuses every write, "r+" allows them."""
    root = Path(path)
    if not root.exists():
        raise InputError(root, "no such store")
    node = _node(root) if root.is_dir() else None
    if node is None or node.get("node_type") != "group":
        if root.is_dir() and _abandoned(root):
            raise InputError(root, "not a Zarr v3 store: only the staging folders of an interrupted ingest "
                                   "(the next ingest starts it afresh)")
        raise InputError(root, "not a Zarr v3 store (no group zarr.json)")
    return zarr.open_group(str(root), mode=mode)


def _group(store: StoreLike) -> zarr.Group:
    return store if isinstance(store, zarr.Group) else open_store(store, "r")


def scene_names(store: StoreLike) -> list[str]:
    """Names of the complete scenes in the store, sorted."""
    return _children(_store_root(_group(store)) / SCENES)


def run_names(store: StoreLike) -> list[tuple[str, str]]:
    """(run_id, scene) of every run group in the store, sorted."""
    runs = _store_root(_group(store)) / RUNS
    return [(r, s) for r in _children(runs) for s in _children(runs / r)]


class _EveryChunkStore(LocalStore):
    """A LocalStore of a scene whose every chunk was written at ingest: a missing chunk is an error, not zeros."""

    async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        value = await super().get(key, prototype, byte_range)
        if value is None and _CHUNK_KEY.search(key):
            raise InputError(self.root / key, "missing chunk: it was stored at ingest and is gone (the scene is "
                                              "damaged; ingest it again with --overwrite)")
        return value


def scene(store: StoreLike, name: str) -> zarr.Group:
    """The group `scenes/<name>` (read-only); a missing scene is an InputError naming the store.

    In a scene ingested with every chunk stored, reading a missing chunk is an InputError naming
    the file (not the fill value).
    """
    g = _group(store)
    key = f"{SCENES}/{name}"
    if name.startswith(".") or key not in g:
        raise InputError(g.store.root if hasattr(g.store, "root") else str(g.store),
                         f"no scene {name!r} (scenes: {', '.join(scene_names(g)) or 'none'})")
    group = g[key]
    if group.attrs.get(EVERY_CHUNK) and isinstance(g.store, LocalStore):
        return zarr.open_group(store=_EveryChunkStore(_store_root(g) / key, read_only=True), mode="r")
    return group


def read_view(store: StoreLike, name: str, u: int, v: int) -> np.ndarray:
    """View (u, v) of a light-field or stereo scene as uint8 (H, W, 3).

    Raises:
        InputError: for a view outside the grid or missing from the source, or a corrupt chunk
            (naming its file).
    """
    g = scene(store, name)
    u, v = int(u), int(v)
    grid = g["views"].shape[:2]
    if not (0 <= u < grid[0] and 0 <= v < grid[1]):
        raise InputError(_store_root(_group(store)),
                         f"scene {name!r}: view ({u}, {v}) is outside its {grid[0]}x{grid[1]} grid")
    if "present" in g and not bool(g["present"][u, v]):
        raise InputError(g.attrs.get("source", _store_root(_group(store))),
                         f"scene {name!r}: view ({u}, {v}) is missing from the source")
    return read_array(g["views"], (u, v))


def read_frame(store: StoreLike, name: str, t: int) -> np.ndarray:
    """Frame at index t (not the Sintel frame number; see `frame_numbers`) as uint8 (H, W, 3).

    Raises:
        InputError: for an index the clip does not have, or a corrupt chunk (naming its file).
    """
    g = scene(store, name)
    t, n = int(t), g["frames"].shape[0]
    if not 0 <= t < n:
        raise InputError(_store_root(_group(store)), f"scene {name!r} has no frame index {t} (0..{n - 1})")
    return read_array(g["frames"], (t,))


def scene_sha256(store: StoreLike, name: str) -> str:
    """Recompute the content hash of a stored scene (equals its `source_sha256` when intact)."""
    g = scene(store, name)
    return content_sha256({k: np.asarray(g[k][...]) for k in g.array_keys()})


def settle_io(timeout: float = 5.0) -> None:
    """Cancel Zarr I/O still in flight (after an interrupt) and wait for it, so that the process exits quietly.

    Zarr runs its I/O as tasks on its own event loop; an interrupt that stops the thread waiting for
    them leaves them pending, and closing the loop at exit then prints `Task was destroyed but it
    is pending!` for each.
    """
    from zarr.core import sync as zsync

    loop = zsync.loop[0]
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout)
    except Exception:  # noqa: BLE001 - best effort on the way out
        pass


# ---------------------------------------------------------------- ingesting scenes

def _add_array(group: zarr.Group, name: str, data: np.ndarray, dims: Sequence[str],
               chunks: Sequence[int] | None = None, fill_value: Any = 0) -> None:
    """Create `name` with `dimension_names` and write `data` (never sharded, every chunk stored).

    Written one row of chunks at a time, with an interrupt checkpoint after each.
    """
    data = np.asarray(data)
    chunks = tuple(chunks or data.shape)
    array = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks, dimension_names=tuple(dims),
                               fill_value=fill_value, config={"write_empty_chunks": True})
    step = chunks[0] if data.ndim else 0
    if not step or step >= data.shape[0]:
        array[...] = data
    else:
        for start in range(0, data.shape[0], step):
            array[start:start + step] = data[start:start + step]
            checkpoint()
    checkpoint()


def _unfinished_runs(root: Path, name: str) -> list[str]:
    """Ids of the runs of scene `name` without a `finished` stamp."""
    runs = root / RUNS
    busy = []
    for run_id in _children(runs):
        node = _node(runs / run_id / name)
        if node is not None and not node.get("attributes", {}).get("finished"):
            busy.append(run_id)
    return busy


def _decide(root: Path, name: str, sha: str, overwrite: bool) -> str | None:
    """"unchanged" when scene `name` already holds content `sha`; None when it may be written; else InputError."""
    node = _node(root / SCENES / name)
    if node is None:
        if (root / SCENES / name).exists():
            raise InputError(root / SCENES / name, "exists but is not a Zarr group; move it away")
        return None
    old = node.get("attributes", {}).get("source_sha256")
    if old == sha:
        return "unchanged"
    if not overwrite:
        raise InputError(root, f"scene {name!r} already exists with different content "
                               f"(source_sha256 {str(old)[:12]}… vs {sha[:12]}…); "
                               "ask to overwrite it (--overwrite) or choose another name")
    busy = _unfinished_runs(root, name)
    if busy:
        raise InputError(root, f"scene {name!r} is not replaced: unfinished runs read it ({', '.join(busy)}); "
                               f"finish them, or delete runs/<run>/{name} of those no longer running")
    return None


def _write_scene(folder: Path, arrays: dict[str, tuple], attrs: dict[str, Any]) -> None:
    """Write a scene group into empty folder `folder` (its attributes last)."""
    g = zarr.open_group(str(folder), mode="w-", zarr_format=3)
    for key, (data, dims, chunks, fill) in arrays.items():
        _add_array(g, key, data, dims, chunks, fill)
    g.attrs.update(attrs)


def _put_scene(root: Path, name: str, staged: Path, sha: str, overwrite: bool) -> str:
    """Put staged scene `staged` in place as `scenes/<name>` under the store lock (rechecking `_decide`)."""
    with store_lock(root):
        _clean_stale(root)
        final = root / SCENES / name
        status = _decide(root, name, sha, overwrite)
        if status:
            return status
        if final.exists():
            exchange(staged, final)  # the old scene is now at `staged`, deleted with it
            return "replaced"
        os.rename(staged, final)
        return "ingested"


def _ingest(store: str | Path, name: str, arrays: dict[str, tuple], attrs: dict[str, Any],
            overwrite: bool) -> str:
    """Write scene `name` all-or-nothing; returns "ingested", "replaced" or "unchanged"."""
    root = _root(store)
    check_name("scene", name)
    _check_store(root)
    sha = content_sha256({k: spec[0] for k, spec in arrays.items()})
    if _is_group(root):
        early = _decide(root, name, sha, overwrite)
        if early:
            return early
    attrs = json_round_trip({**attrs, "source_sha256": sha, "ingested_at": _now(), "refsr_version": __version__,
                             EVERY_CHUNK: True})
    with deferred_interrupts():
        if not _is_group(root):
            with _staged_store(root) as tmp:
                staged = tmp / SCENES / name
                staged.mkdir()
                _write_scene(staged, arrays, attrs)
                if _put_store(tmp, root):
                    return "ingested"
                return _put_scene(root, name, staged, sha, overwrite)  # another process made the store
        with staged_folder(root / SCENES, f".tmp-{name}-") as staged:
            _write_scene(staged, arrays, attrs)
            return _put_scene(root, name, staged, sha, overwrite)


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


def _run_folder(root: Path, run_id: str) -> Path:
    """`runs/<run_id>`, created (in one rename) if missing; call it holding `store_lock`."""
    folder = root / RUNS / run_id
    if _is_group(folder):
        return folder
    if folder.exists():
        raise InputError(folder, "exists but is not a Zarr group; move it away")
    with staged_folder(root / RUNS, f".tmp-{run_id}-") as tmp:
        zarr.open_group(str(tmp), mode="w-", zarr_format=3)
        os.rename(tmp, folder)
    return folder


def run_identity_of(attrs: Any) -> dict:
    """The RUN_IDENTITY part of a run's attributes (or of any mapping), missing keys as None."""
    return {k: attrs.get(k) for k in RUN_IDENTITY}


def _same_run(path: Path, want: dict, shape: tuple, confidence: bool) -> bool:
    old = zarr.open_group(str(path), mode="r")
    return (run_identity_of(old.attrs) == want and old["sr"].shape == shape
            and ("confidence" in old) == confidence)


def _write_run(folder: Path, n: int, h: int, w: int, targets: np.ndarray, attrs: dict, confidence: bool) -> None:
    """Write an empty run group (no target done) into empty folder `folder`."""
    g = zarr.open_group(str(folder), mode="w-", zarr_format=3)
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
    g.attrs.update(attrs)


def create_run(store: str | Path, run_id: str, scene_name: str, targets: Sequence[Sequence[int]],
               hr_shape: Sequence[int], attrs: dict[str, Any], confidence: bool = False,
               overwrite: bool = False) -> str:
    """Create `runs/<run_id>/<scene>` all-or-nothing; returns "created", "resumed" or "replaced".

    `attrs` holds method, weights, reference, fusion, device, params. An existing run with the same
    identity (RUN_IDENTITY, shape, confidence) is resumed and keeps its finished targets; a different
    one is refused unless `overwrite`. The check and the creation happen under the store lock, so
    processes creating the same run at once get one "created" and the others "resumed".
    """
    root = _root(store)
    h, w = int(hr_shape[0]), int(hr_shape[1])
    targets = np.asarray(targets, dtype=np.int32).reshape(-1, 2)
    n = len(targets)
    if n == 0:
        raise ValueError("a run needs at least one target")
    want = json_round_trip({**run_identity_of(attrs), "targets": targets.tolist()})
    path = _run_path(root, run_id, scene_name)
    with deferred_interrupts(), store_lock(root):
        scene(root, scene_name)  # the scene must be in the store
        _clean_stale(root)
        existed = _is_group(path)
        if existed:
            if _same_run(path, want, (n, h, w, 3), confidence):
                return "resumed"
            if not overwrite:
                raise InputError(root, f"run {run_id!r} of scene {scene_name!r} exists with other settings; "
                                       "choose another run id or ask to overwrite it")
        folder = _run_folder(root, run_id)
        with staged_folder(folder, f".tmp-{scene_name}-") as tmp:
            _write_run(tmp, n, h, w, targets, json_round_trip(
                {**attrs, **want, "scene": scene_name, "started": _now(), "finished": None,
                 "refsr_version": __version__}), confidence)
            checkpoint()
            exchange(tmp, path) if existed else os.rename(tmp, path)
    return "replaced" if existed else "created"


def write_target(store: str | Path, run_id: str, scene_name: str, index: int, sr: np.ndarray,
                 confidence: np.ndarray | None = None) -> None:
    """Write target `index`'s SR image (one whole chunk, plus its confidence), then mark it done.

    Each chunk file is replaced atomically and `done` is written last, so an interrupted write
    leaves the target not done. Releases this process's claim on the target (`claim_target`).
    """
    g = run_group(store, run_id, scene_name, "r+")
    shape = g["sr"].shape[1:]
    sr = np.asarray(sr)
    if sr.dtype != np.uint8 or sr.shape != shape:
        raise ValueError(f"sr must be uint8 {shape}, got {sr.dtype} {sr.shape}")
    if confidence is not None and "confidence" not in g:
        raise ValueError(f"run {run_id!r} was created without a confidence array")
    with deferred_interrupts():
        _every_chunk(g["sr"])[index] = sr
        if confidence is not None:
            _every_chunk(g["confidence"])[index] = np.asarray(confidence, np.float16)
        g["done"][index] = True
    release_target(store, run_id, scene_name, index)


def write_metrics(store: str | Path, run_id: str, scene_name: str, index: int,
                  psnr: float, psnr_y: float, ssim: float) -> None:
    """Store the metrics of target `index` (each its own one-element chunk; `psnr`, which marks the
    target evaluated, last)."""
    g = run_group(store, run_id, scene_name, "r+")
    with deferred_interrupts():
        for key, value in (("psnr_y", psnr_y), ("ssim", ssim), ("psnr", psnr)):
            g[key][index] = float(value)


def pending_targets(store: StoreLike, run_id: str, scene_name: str) -> list[int]:
    """Indices of the targets not yet marked done."""
    done = np.asarray(run_group(store, run_id, scene_name)["done"][...])
    return [int(i) for i in np.flatnonzero(~done)]


def read_target(store: StoreLike, run_id: str, scene_name: str, index: int) -> np.ndarray:
    """The SR image of target `index` as uint8 (H, W, 3); a corrupt chunk is an InputError naming its file."""
    return read_array(run_group(store, run_id, scene_name)["sr"], (int(index),))


def add_computed_on(store: str | Path, run_id: str, scene_name: str, devices: Sequence[str]) -> list[str]:
    """Add `devices` (e.g. "cpu", "cuda:0") to the run's `computed_on` attribute: where its targets were made."""
    g = run_group(store, run_id, scene_name, "r+")
    merged = sorted(set(g.attrs.get("computed_on", [])) | set(devices))
    with deferred_interrupts():
        g.attrs["computed_on"] = merged
    return merged


def finish_run(store: str | Path, run_id: str, scene_name: str) -> str:
    """Set the run's `finished` attribute (last step); refuses while targets are pending."""
    missing = pending_targets(store, run_id, scene_name)
    if missing:
        raise ValueError(f"run {run_id!r} of scene {scene_name!r} has unfinished targets {missing}")
    stamp = _now()
    with deferred_interrupts():
        run_group(store, run_id, scene_name, "r+").attrs["finished"] = stamp
    return stamp


# ---------------------------------------------------------------- claims: each target's work done once

_claims: dict[str, tuple[int, int]] = {}  # claim file -> (open fd holding its flock, owning thread id)
_claims_guard = threading.Lock()


def _claim_file(root: Path, run_id: str, scene_name: str, step: str, index: int) -> Path:
    folder = root / LOCKS / "claims" / check_name("run", run_id) / check_name("scene", scene_name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{step}-{int(index)}"


def _acquire(path: Path, finished: Callable[[], bool], what: str) -> tuple[int | None, bool]:
    """Lock claim file `path`, waiting while another process holds it; the holder writes who it is there.

    Waiting is logged once (logger `refsr.store`), naming the holder and `what` it computes.

    Returns:
        (fd, waited); fd is None when `finished()` became true while waiting.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    waited = False
    while not try_lock(fd):
        if not waited:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "another process"
            log.info("%s: %s is computing it; waiting for it to finish (claim %s)", what, holder, path)
        waited = True
        if finished():
            os.close(fd)
            return None, True
        checkpoint()
        time.sleep(CLAIM_POLL_S)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
    return fd, waited


def claim_target(store: str | Path, run_id: str, scene_name: str, index: int) -> bool:
    """Claim target `index` of a run for this process to compute; False when it is done (by anyone).

    While another process holds the claim this waits, then returns False once that process has
    marked the target done (or takes the claim if that process died). The claim lasts until this
    process writes the target (`write_target`), claims another target in the same thread (a thread
    computes one target at a time, so its previous claim was abandoned), or exits. Within one
    process a claim is re-entrant.
    """
    root = _root(store).resolve()
    path = str(_claim_file(root, run_id, scene_name, "reconstruct", index))
    me = threading.get_ident()

    def done() -> bool:
        return bool(run_group(root, run_id, scene_name)["done"][index])

    with _claims_guard:
        for key in [k for k, (_, owner) in _claims.items() if owner == me and k != path]:
            os.close(_claims.pop(key)[0])
        if path in _claims:
            _claims[path] = (_claims[path][0], me)
            return not done()
    fd, _ = _acquire(Path(path), done, f"target {index} of run {run_id}/{scene_name}")
    if fd is None:
        return False
    if done():
        os.close(fd)
        return False
    with _claims_guard:
        _claims[path] = (fd, me)
    return True


def release_target(store: str | Path, run_id: str, scene_name: str, index: int) -> None:
    """Drop this process's claim on target `index` (no-op without one)."""
    path = str(_root(store).resolve() / LOCKS / "claims" / run_id / scene_name / f"reconstruct-{int(index)}")
    with _claims_guard:
        held = _claims.pop(path, None)
    if held:
        os.close(held[0])


@contextmanager
def metrics_claim(store: str | Path, run_id: str, scene_name: str, index: int) -> Iterator[bool]:
    """Hold the claim to evaluate target `index` for the block; yields whether it still needs evaluating.

    Yields False when its metrics are stored already (by another process, perhaps while this one
    waited for the claim): the stored ones stand.
    """
    root = _root(store)

    def evaluated() -> bool:
        return not math.isnan(float(run_group(root, run_id, scene_name)["psnr"][index]))

    fd, _ = _acquire(_claim_file(root, run_id, scene_name, "evaluate", index), evaluated,
                     f"metrics of target {index} of run {run_id}/{scene_name}")
    if fd is None:
        yield False
        return
    try:
        yield not evaluated()
    finally:
        os.close(fd)


# ---------------------------------------------------------------- describing

def _problem(problems: list[dict], path: Path | str, problem: str) -> None:
    problems.append({"path": str(path), "problem": problem})


def _array_info(array: zarr.Array) -> dict:
    dims = array.metadata.dimension_names or tuple(f"dim{i}" for i in range(array.ndim))
    return {"dtype": str(array.dtype), "dims": list(dims), "shape": list(array.shape), "chunks": list(array.chunks)}


def _chunk_file(folder: Path, array: zarr.Array, coords: Sequence[int]) -> Path:
    return folder / array.metadata.encode_chunk_key(tuple(int(c) for c in coords))


def _chunk_slices(array: zarr.Array, coords: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(c * k, min((c + 1) * k, s)) for c, k, s in zip(coords, array.chunks, array.shape))


def read_array(array: zarr.Array, index: tuple[int, ...] = ()) -> np.ndarray:
    """`array[index]` (integers on the leading axes; all of it by default) of a store on disk; an
    undecodable chunk is an InputError naming its file."""
    try:
        return np.asarray(array[index])
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any decoding failure: find the chunk it came from
        folder = Path(array.store_path.store.root) / array.store_path.path
        lead = tuple(int(i) // k for i, k in zip(index, array.chunks))
        for rest in np.ndindex(*array.cdata_shape[len(index):]):
            coords = lead + rest
            try:
                array[_chunk_slices(array, coords)]
            except Exception as chunk_err:  # noqa: BLE001
                raise InputError(_chunk_file(folder, array, coords),
                                 f"corrupt chunk ({_one_line(chunk_err)})") from None
        raise InputError(folder, f"cannot read array ({_one_line(err)})") from None


def _arrays(folder: Path, problems: list[dict]) -> dict[str, zarr.Array]:
    """The arrays of group folder `folder` by name; corrupt metadata goes to `problems`."""
    found = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            node = _node(folder / entry.name)
            if node is not None and node.get("node_type") == "array":
                found[entry.name] = zarr.open_array(str(folder / entry.name), mode="r")
        except InputError as err:
            _problem(problems, err.path, err.problem)
        except Exception as err:  # noqa: BLE001 - metadata zarr refuses
            _problem(problems, folder / entry.name / "zarr.json", f"unreadable Zarr metadata ({_one_line(err)})")
    return found


def _missing_chunks(folder: Path, array: zarr.Array, indices: Sequence[int] | None = None) -> list[Path]:
    """Chunk files of `array` (in `folder`) that are not on disk, among the chunks along axis 0 at `indices`
    (None: all chunks)."""
    missing = []
    for coords in np.ndindex(*array.cdata_shape):
        if indices is not None and coords[0] not in indices:
            continue
        path = _chunk_file(folder, array, coords)
        if not path.is_file():
            missing.append(path)
    return missing


def _verify(arrays: dict[str, zarr.Array], problems: list[dict]) -> dict[str, np.ndarray] | None:
    """Decode every chunk of `arrays`; returns the data, or None after recording the first corrupt chunk."""
    data = {}
    for name, array in arrays.items():
        try:
            data[name] = read_array(array)
        except InputError as err:
            _problem(problems, err.path, err.problem)
            return None
    return data


def _inspect_scene(root: Path, name: str, problems: list[dict], verify: bool) -> dict:
    folder = root / SCENES / name
    attrs = (_node(folder) or {}).get("attributes", {})
    arrays = _arrays(folder, problems)
    info = {"name": name, "kind": attrs.get("kind"), "attrs": attrs,
            "arrays": {k: _array_info(a) for k, a in arrays.items()}, "missing_chunks": []}
    if attrs.get(EVERY_CHUNK):
        for key, array in arrays.items():
            info["missing_chunks"] += [str(p) for p in _missing_chunks(folder / key, array)]
        for path in info["missing_chunks"]:
            _problem(problems, path, f"missing chunk of scene {name!r}: stored at ingest and gone "
                                     "(it is not read as zeros; ingest the scene again with --overwrite)")
    if verify and not info["missing_chunks"]:
        data = _verify(arrays, problems)
        if data is not None and content_sha256(data) != attrs.get("source_sha256"):
            _problem(problems, folder, f"scene {name!r} does not match its source_sha256 (content changed)")
    return info


def _score(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _inspect_run(root: Path, run_id: str, scene_name: str, problems: list[dict], verify: bool) -> dict:
    folder = root / RUNS / run_id / scene_name
    attrs = (_node(folder) or {}).get("attributes", {})
    arrays = _arrays(folder, problems)
    info = {"run_id": run_id, "scene": scene_name,
            **{k: attrs.get(k) for k in ("method", "reference", "fusion", "device", "computed_on", "weights",
                                         "params", "started", "finished")},
            "arrays": {k: _array_info(a) for k, a in arrays.items()}}
    try:
        targets = read_array(arrays["targets"]) if "targets" in arrays else np.zeros((0, 2), int)
        n = len(targets)
        done = read_array(arrays["done"]) if "done" in arrays else np.zeros(n, bool)
        scores = {k: read_array(arrays[k]) if k in arrays else np.full(n, np.nan) for k in METRICS}
    except InputError as err:
        _problem(problems, err.path, err.problem)
        return {**info, "n": None, "done": None, "targets": [], "mean": None}
    info.update(n=n, done=int(done.sum()), mean=None, targets=[
        {"index": i, "target": [int(x) for x in targets[i]], "done": bool(done[i]),
         **{k: _score(scores[k][i]) for k in METRICS}} for i in range(n)])
    if np.isfinite(scores["psnr"]).any():
        info["mean"] = {k: float(np.nanmean(scores[k])) for k in METRICS}
    done_ix = set(np.flatnonzero(done).tolist())
    for key in ("sr", "confidence"):
        if key in arrays:
            for path in _missing_chunks(folder / key, arrays[key], done_ix):
                _problem(problems, path, f"missing chunk of a done target of run {run_id}/{scene_name}")
    if verify:
        _verify({k: a for k, a in arrays.items() if k in ("sr", "confidence")}, problems)
    return info


def inspect_run(store: StoreLike, run_id: str, scene_name: str) -> dict:
    """One run as `inspect_store` lists it, with its own "problems".

    Returns:
        {"run_id", "scene", "method", "reference", ..., "n", "done", "mean", "targets": [{"index",
        "target", "done", "psnr", "psnr_y", "ssim"}], "problems"}; NaN metrics are None.

    Raises:
        InputError: when the store has no such run.
    """
    run_group(store, run_id, scene_name)
    problems: list[dict] = []
    info = _inspect_run(_store_root(_group(store)), run_id, scene_name, problems, verify=False)
    return {**info, "problems": problems}


def describe_run(store: StoreLike, run_id: str, scene_name: str, max_rows: int | None = None) -> str:
    """One run's block of `refsr info`: its header line, then PSNR / PSNR-Y / SSIM per target and their mean."""
    return "\n".join(_run_lines(inspect_run(store, run_id, scene_name), max_rows))


def inspect_store(store: StoreLike, verify: bool = False) -> dict:
    """What `refsr info` reports, as plain data (`refsr info --json` prints it).

    Args:
        store: the store path or its root group.
        verify: also decode every chunk (naming the first corrupt one) and re-check each scene's
            source_sha256.

    Returns:
        {"store", "zarr_format", "scenes": [...], "runs": [...], "staging": {"stale": [paths],
        "live": [paths], "partial": [paths]}, "problems": [{"path", "problem"}]}; `partial` lists
        `partial_chunks`. Problems are corrupt metadata or
        chunks and missing chunks, each naming its file; NaN metrics are None.
    """
    root = _store_root(_group(store))
    problems: list[dict] = []
    scenes = [_inspect_scene(root, name, problems, verify) for name in _children(root / SCENES, problems)]
    runs = [_inspect_run(root, run_id, s, problems, verify) for run_id in _children(root / RUNS, problems)
            for s in _children(root / RUNS / run_id, problems)]
    staging = staging_folders(root)
    return {"store": str(root), "zarr_format": 3, "scenes": scenes, "runs": runs,
            "staging": {"stale": [str(p) for p, live in staging if not live],
                        "live": [str(p) for p, live in staging if live],
                        "partial": [str(p) for p in partial_chunks(root)]},
            "problems": problems}


def _array_line(name: str, info: dict) -> str:
    shape = ", ".join(f"{d}={s}" for d, s in zip(info["dims"], info["shape"]))
    return f"    {name:<14}{info['dtype']:<9}({shape})"


def _scene_lines(s: dict) -> list[str]:
    a, arrays = s["attrs"], s["arrays"]
    if s["kind"] == "video" and "frames" in arrays:
        shape = arrays["frames"]["shape"]
        size = f"frames={a.get('frames')}  frame {shape[1]}x{shape[2]} (HxW)"
        extra = f"  pass={a.get('pass')}  flow frames={a.get('flow_frames')}"
    elif "views" in arrays:
        shape = arrays["views"]["shape"]
        size = f"grid={'x'.join(map(str, a.get('grid', [])))}  view {shape[2]}x{shape[3]} (HxW)"
        extra = f"  disparity of view {tuple(a['disparity_view'])}" if a.get("disparity_view") else ""
    else:
        size, extra = "(no views or frames array)", ""
    lines = [f"  {s['name']}  kind={s['kind']}  {size}{extra}",
             f"    source={a.get('source')}  reader={a.get('reader')}  sha256={str(a.get('source_sha256'))[:12]}…"
             f"  ingested {a.get('ingested_at')}"]
    lines += [_array_line(k, info) for k, info in arrays.items()]
    if s["missing_chunks"]:
        lines.append(f"    MISSING {len(s['missing_chunks'])} chunk(s), e.g. {s['missing_chunks'][0]}")
    return lines


def _fmt(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


INFO_ROWS = 12  # targets per run that `refsr info` lists unless asked for all


def _computed_on_note(r: dict) -> str:
    """" (on cpu)" where the devices that made the targets are known and differ from the one asked for."""
    used = r.get("computed_on") or []
    return f" (on {','.join(used)})" if used and used != [r.get("device")] else ""


def _run_lines(r: dict, max_rows: int | None = INFO_ROWS) -> list[str]:
    state = f"finished {r['finished']}" if r.get("finished") else "not finished"
    done = "done ?" if r["n"] is None else f"done {r['done']}/{r['n']}"
    lines = [f"  {r['run_id']}/{r['scene']}  method={r.get('method')}  reference={r.get('reference')}  "
             f"device={r.get('device')}{_computed_on_note(r)}  {done}  {state}"]
    if "sr" in r["arrays"]:
        lines.append(_array_line("sr", r["arrays"]["sr"]))
    lines.append(f"    {'target':<10}{'done':<6}{'PSNR':>8}{'PSNR-Y':>8}{'SSIM':>8}")
    targets = r["targets"]
    shown = len(targets) if max_rows is None else min(len(targets), max_rows)
    for t in targets[:shown]:
        where = f"({t['target'][0]}, {t['target'][1]})"
        lines.append(f"    {where:<10}{'yes' if t['done'] else 'no':<6}{_fmt(t['psnr'], 2):>8}"
                     f"{_fmt(t['psnr_y'], 2):>8}{_fmt(t['ssim'], 4):>8}")
    if len(targets) > shown:
        lines.append(f"    … {len(targets) - shown} more targets (refsr info --all lists them)")
    if r["mean"] and r["n"] > 1:
        m = r["mean"]
        lines.append(f"    {'mean':<16}{_fmt(m['psnr'], 2):>8}{_fmt(m['psnr_y'], 2):>8}{_fmt(m['ssim'], 4):>8}")
    return lines


def render(info: dict, max_rows: int | None = INFO_ROWS) -> str:
    """The text of `refsr info` from `inspect_store`'s data; each run lists its first `max_rows` targets
    (None: all)."""
    lines = [f"store {info['store']} (Zarr v{info['zarr_format']})", f"scenes: {len(info['scenes'])}"]
    for s in info["scenes"]:
        lines += _scene_lines(s)
    lines.append(f"runs: {len(info['runs'])}")
    for r in info["runs"]:
        lines += _run_lines(r, max_rows)
    stale, live = info["staging"]["stale"], info["staging"]["live"]
    if stale:
        lines.append(f"{len(stale)} stale staging folder(s), removed on the next write")
    if live:
        lines.append(f"{len(live)} staging folder(s) being written by running processes")
    if info["staging"]["partial"]:
        lines.append(f"{len(info['staging']['partial'])} partial file(s) of killed writes in runs, "
                     "removed on the next write")
    return "\n".join(lines)


def describe(store: StoreLike, max_rows: int | None = INFO_ROWS) -> str:
    """What `refsr info` prints: scenes (kind, grid or frames, arrays with dims) and runs with metrics.

    Each run lists its first `max_rows` targets (None: all of them).
    """
    return render(inspect_store(store), max_rows)
