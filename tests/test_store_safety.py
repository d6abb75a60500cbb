"""The store under interrupts and concurrent writers: real processes, signalled or killed mid-write.

Each test starts `refsr ingest` or a small Python writer (WRITER below) as a subprocess, signals or
kills it at a marker it prints (or a staging folder it makes), and then checks the store with
`refsr info` and Zarr. Scenes are tiny and synthetic: what is tested is the store, not the data.
"""
from __future__ import annotations

import fcntl
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from refsr import runs, store as zarr_store
from refsr.cli import main
from refsr.errors import InputError
from refsr.io.lightfield import LightField, write_hdf5

GRID, H, W = (3, 3), 64, 72
RUN = {"method": "bicubic", "weights": None, "reference": [0, 0], "fusion": None, "device": "cpu",
       "params": {"scale": 8}}
TARGETS = [[u, v] for u in range(3) for v in range(3) if (u, v) != (0, 0)]

# A writer process. `ingest STORE NAME SEED [hold=FILE at=MARKER] [overwrite]`: ingest the synthetic
# light field of SEED; with hold=FILE it prints `array <name>` after each array and `commit` before
# putting the scene in place, and at MARKER waits until FILE exists, so that a test can signal or
# kill it there. `run STORE SPEC`: create the run (SPEC: reference, targets) of scene "lf" with id "r",
# compute each target it gets the claim of (0.3 s each), evaluate each target, print what it did
# as JSON. A last argument go=FILE makes it print `ready` and wait for FILE before it starts.
WRITER = r'''
import json, os, sys, time
import numpy as np
from refsr import store as zarr_store
from refsr.io.atomic import checkpoint
from refsr.io.lightfield import LightField

def lightfield(seed):
    views = np.random.default_rng(seed).integers(0, 256, (3, 3, 64, 72, 3), dtype=np.uint8)
    return LightField(views=views, present=np.ones((3, 3), bool), disparity=None, disparity_view=None,
                      source=f"seed {seed}", reader="uv-folder")

def say(text):
    print(text, flush=True)

def wait_for_go():
    if len(sys.argv) > 2 and sys.argv[-1].startswith("go="):
        go = sys.argv.pop()[3:]
        say("ready")
        while not os.path.exists(go):
            time.sleep(0.01)

wait_for_go()
mode, path = sys.argv[1], sys.argv[2]
if mode == "ingest":
    name, seed, flags = sys.argv[3], int(sys.argv[4]), sys.argv[5:]
    hold = next((f[5:] for f in flags if f.startswith("hold=")), None)
    at = next((f[3:] for f in flags if f.startswith("at=")), None)
    if hold:
        def pause(marker):
            say(marker)
            end = time.time() + (60 if marker == at else 0)
            while not os.path.exists(hold) and time.time() < end:
                checkpoint()  # a deferred SIGINT/SIGTERM stops the writer here
                time.sleep(0.01)
        add, put_scene, put_store = zarr_store._add_array, zarr_store._put_scene, zarr_store._put_store
        def held_add(group, key, *args, **kwargs):
            add(group, key, *args, **kwargs)
            pause(f"array {key}")
        def held_put_scene(*args, **kwargs):
            pause("commit")
            return put_scene(*args, **kwargs)
        def held_put_store(*args, **kwargs):
            pause("commit")
            return put_store(*args, **kwargs)
        zarr_store._add_array, zarr_store._put_scene, zarr_store._put_store = held_add, held_put_scene, held_put_store
    say("status " + zarr_store.ingest_lightfield(path, name, lightfield(seed), overwrite="overwrite" in flags))
elif mode == "run":
    from refsr import metrics, runs
    RUN = json.loads(sys.argv[3])
    identity = runs.run_identity("bicubic", None, RUN["reference"], RUN["targets"], None)
    opened = runs.open_run(path, "lf", identity, "cpu", run_id="r")
    computed, evaluated = [], []
    for i in range(opened["n"]):
        inputs = runs.target_inputs(path, "r", "lf", i)
        if not inputs.done:
            time.sleep(0.3)
            zarr_store.write_target(path, "r", "lf", i, runs.truth_image(path, "lf", inputs.target))
            computed.append(i)
    psnr = metrics.psnr
    def counted(*args):
        evaluated.append(1)
        return psnr(*args)
    metrics.psnr = counted
    scores = [runs.evaluate_target(path, "r", "lf", i)["psnr"] for i in range(opened["n"])]
    say(json.dumps({"status": opened["status"], "computed": computed, "evaluated": len(evaluated),
                    "scores": scores}))
'''


def _lightfield(seed: int) -> LightField:
    """The light field WRITER ingests for `seed`."""
    views = np.random.default_rng(seed).integers(0, 256, (*GRID, H, W, 3), dtype=np.uint8)
    return LightField(views=views, present=np.ones(GRID, bool), disparity=None, disparity_view=None,
                      source=f"seed {seed}", reader="uv-folder")


@pytest.fixture
def writer(tmp_path: Path) -> Path:
    path = tmp_path / "writer.py"
    path.write_text(WRITER)
    return path


def _start(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_line(proc: subprocess.Popen, wanted: str, timeout: float = 120) -> None:
    """Read `proc`'s stdout until a line equal to `wanted` (the process is then paused there)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"writer ended before {wanted!r}: {proc.stderr.read()[-2000:]}")
        if line.strip() == wanted:
            return
    pytest.fail(f"no {wanted!r} within {timeout} s")


def _info(store: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "refsr.cli", "info", str(store), *flags], capture_output=True,
                          text=True, timeout=120)


def _staging(store: Path) -> list[str]:
    """Staging folders inside the store and half-made copies of it next to it."""
    return sorted(glob.glob(str(store / "scenes" / ".*")) + glob.glob(str(store.parent / f".{store.name}.tmp-*")))


def _assert_scene_is(store: Path, name: str, seed: int) -> None:
    ds = xr.open_zarr(store, group=f"scenes/{name}", consolidated=False)
    np.testing.assert_array_equal(ds["views"].values, _lightfield(seed).views)


# ---------------------------------------------------------------- the real command, interrupted


@pytest.fixture(scope="module")
def big_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9x9 light field of 256x256 noise views (HDF5): large enough that a signal lands mid-write."""
    views = np.random.default_rng(3).integers(0, 256, (9, 9, 256, 256, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("lf") / "noise.h5"
    write_hdf5(path, LightField(views=views, present=np.ones((9, 9), bool), disparity=None, disparity_view=None,
                                source="noise", reader="hdf5"))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-store", "existing-store"])
def test_refsr_ingest_signalled_mid_write_exits_cleanly(tmp_path: Path, big_h5: Path, sig: int,
                                                        existing: bool) -> None:
    store = tmp_path / "s.zarr"
    if existing:
        zarr_store.ingest_lightfield(store, "other", _lightfield(1))
    marker = str(store / "scenes" / ".tmp-*") if existing else str(tmp_path / ".s.zarr.tmp-*")
    proc = subprocess.Popen([sys.executable, "-m", "refsr.cli", "ingest", "lightfield", str(big_h5), "--store",
                             str(store), "--name", "noise"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 120
    while not glob.glob(marker) and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.002)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert "Task was destroyed" not in err and "Traceback" not in err and "Exception ignored" not in err, err
    if proc.returncode == 0:  # the signal came after the scene was in place: the scene is complete
        assert "noise: ingested" in out
        stored = zarr_store.open_store(store)["scenes/noise"].attrs["source_sha256"]
        assert zarr_store.scene_sha256(store, "noise") == stored
    else:
        assert proc.returncode == 128 + sig, err
        assert lines[-1] == f"refsr: interrupted ({signal.Signals(sig).name})"
        assert len([line for line in lines if line.startswith("refsr:")]) == 1, err
        if existing:
            assert zarr_store.scene_names(store) == ["other"]
        else:
            assert not store.exists()
    assert _staging(store) == []  # the interrupted writer removed its own staging folder
    if store.exists():
        assert _info(store).returncode == 0


# ---------------------------------------------------------------- a writer killed at each point


@pytest.mark.parametrize("point, sig", [("array views", signal.SIGKILL), ("commit", signal.SIGKILL),
                                        ("array present", signal.SIGTERM), ("commit", signal.SIGINT)],
                         ids=["KILL-mid-write", "KILL-before-rename", "TERM-mid-write", "INT-before-rename"])
def test_new_store_is_absent_after_any_interrupt(tmp_path: Path, writer: Path, point: str, sig: int) -> None:
    store = tmp_path / "s.zarr"
    proc = _start(str(writer), "ingest", str(store), "lf", "1", f"hold={tmp_path / 'resume'}", f"at={point}")
    _wait_line(proc, point)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not store.exists()  # never a folder that is not a store
    assert len(_staging(store)) == (1 if sig == signal.SIGKILL else 0)  # only kill -9 leaves its staging
    assert zarr_store.ingest_lightfield(store, "lf", _lightfield(1)) == "ingested"  # not refused; cleans the leftover
    assert _staging(store) == []
    _assert_scene_is(store, "lf", 1)


@pytest.mark.parametrize("point", ["array views", "commit"])
def test_killed_replacement_keeps_the_old_scene_and_its_leftover_goes(tmp_path: Path, writer: Path,
                                                                      point: str) -> None:
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    proc = _start(str(writer), "ingest", str(store), "lf", "2", f"hold={tmp_path / 'resume'}", f"at={point}",
                  "overwrite")
    _wait_line(proc, point)
    proc.kill()
    proc.wait(timeout=60)
    _assert_scene_is(store, "lf", 1)  # the old scene, whole
    info = _info(store)
    assert info.returncode == 0, info.stderr
    assert "1 stale staging folder(s), removed on the next write" in info.stdout
    stale = json.loads(_info(store, "--json").stdout)["staging"]["stale"]
    assert len(stale) == 1 and Path(stale[0]).name.startswith(".tmp-lf-")
    assert zarr_store.ingest_lightfield(store, "lf", _lightfield(2), overwrite=True) == "replaced"
    _assert_scene_is(store, "lf", 2)
    assert _staging(store) == []


def test_a_live_writers_staging_is_not_removed(tmp_path: Path, writer: Path) -> None:
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "a", _lightfield(1))
    resume = tmp_path / "resume"
    proc = _start(str(writer), "ingest", str(store), "b", "2", f"hold={resume}", "at=array views")
    _wait_line(proc, "array views")
    info = zarr_store.inspect_store(store)["staging"]
    assert info["stale"] == [] and len(info["live"]) == 1
    assert zarr_store.ingest_lightfield(store, "c", _lightfield(3)) == "ingested"  # a write meanwhile
    assert len(_staging(store)) == 1
    resume.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "status ingested" in out, err
    _assert_scene_is(store, "b", 2)
    assert zarr_store.scene_names(store) == ["a", "b", "c"] and _staging(store) == []


def test_interrupted_exchange_is_rolled_back_by_the_next_write(tmp_path: Path) -> None:
    """Where the file system cannot exchange folders, a replace is two renames; a crash between them
    leaves the old scene under `.old-`: the next write puts it back (synthetic: the state is made by hand)."""
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    scenes = store / "scenes"
    os.rename(scenes / "lf", scenes / ".old-lf-0123456789ab")
    os.mkdir(scenes / ".tmp-lf-ba9876543210")
    assert zarr_store.scene_names(store) == []
    assert zarr_store.ingest_lightfield(store, "other", _lightfield(2)) == "ingested"
    assert zarr_store.scene_names(store) == ["lf", "other"]
    _assert_scene_is(store, "lf", 1)
    assert _staging(store) == []


# ---------------------------------------------------------------- concurrent writers


def _together(tmp_path: Path, argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    """Start the writers, let them import, then release them at once; returns (rc, stdout, stderr) each."""
    go = tmp_path / "go"
    procs = [_start(*argv, f"go={go}") for argv in argvs]
    for proc in procs:
        _wait_line(proc, "ready")
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]


def test_concurrent_ingests_of_one_scene_into_a_new_store(tmp_path: Path, writer: Path) -> None:
    store = tmp_path / "s.zarr"
    results = _together(tmp_path, [[str(writer), "ingest", str(store), "lf", "1"]] * 3)
    assert [rc for rc, _, _ in results] == [0, 0, 0], results
    statuses = sorted(out.split()[-1] for _, out, _ in results)
    assert statuses == ["ingested", "unchanged", "unchanged"], results
    _assert_scene_is(store, "lf", 1)
    assert zarr_store.scene_names(store) == ["lf"] and _staging(store) == []
    assert _info(store).returncode == 0


def test_concurrent_identical_runs_compute_and_evaluate_each_target_once(tmp_path: Path, writer: Path) -> None:
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    spec = json.dumps({"reference": RUN["reference"], "targets": TARGETS})
    results = _together(tmp_path, [[str(writer), "run", str(store), spec]] * 3)
    reports = []
    for rc, out, err in results:
        assert rc == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["status"] for r in reports) == ["created", "resumed", "resumed"]
    computed = [i for r in reports for i in r["computed"]]
    assert sorted(computed) == list(range(len(TARGETS)))  # each target once, by one of them
    assert sum(r["evaluated"] for r in reports) == len(TARGETS)  # each evaluation once
    assert all(r["scores"] == reports[0]["scores"] for r in reports)
    assert zarr_store.pending_targets(store, "r", "lf") == [] and _staging(store) == []


# ---------------------------------------------------------------- scene swaps and runs


def test_a_scene_with_unfinished_runs_is_not_replaced(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    zarr_store.create_run(store, "r1", "lf", TARGETS, (H, W - W % 8), RUN)
    with pytest.raises(InputError, match=r"scene 'lf' is not replaced: unfinished runs read it \(r1\)"):
        zarr_store.ingest_lightfield(store, "lf", _lightfield(2), overwrite=True)
    _assert_scene_is(store, "lf", 1)
    # same content: kept
    assert zarr_store.ingest_lightfield(store, "lf", _lightfield(1), overwrite=True) == "unchanged"
    for i, (u, v) in enumerate(TARGETS):
        zarr_store.write_target(store, "r1", "lf", i, _lightfield(1).views[u, v, :, :W - W % 8])
    zarr_store.finish_run(store, "r1", "lf")
    assert zarr_store.ingest_lightfield(store, "lf", _lightfield(2), overwrite=True) == "replaced"


def test_writes_leave_zarr_groups_clean(tmp_path: Path) -> None:
    """The lock folder and claims never show up as Zarr members of the scene or run groups."""
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    zarr_store.create_run(store, "r1", "lf", TARGETS, (H, 64), RUN)
    assert zarr_store.claim_target(store, "r1", "lf", 0)
    zarr_store.write_target(store, "r1", "lf", 0, np.zeros((H, 64, 3), np.uint8))
    g = zarr_store.open_store(store)
    assert sorted(g["scenes"].group_keys()) == ["lf"] and sorted(g["runs/r1"].group_keys()) == ["lf"]
    assert sorted(g["runs/r1/lf"].array_keys()) == ["done", "psnr", "psnr_y", "sr", "ssim", "targets"]
    assert (store / "runs/r1/lf/sr/c/0/0/0/0").is_file()  # an all-zero result is stored, not left as fill
    assert zarr_store.inspect_store(store)["problems"] == []


# ---------------------------------------------------------------- refsr info on damaged stores


@pytest.fixture
def run_store(tmp_path: Path) -> Path:
    store = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(store, "lf", _lightfield(1))
    zarr_store.create_run(store, "r1", "lf", TARGETS, (H, 64), RUN)
    for i in range(2):
        zarr_store.write_target(store, "r1", "lf", i, np.full((H, 64, 3), 7, np.uint8))
        zarr_store.write_metrics(store, "r1", "lf", i, 30.0 + i, 31.0, 0.9)
    return store


def _error_lines(capsys: pytest.CaptureFixture) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("refsr:")]


def test_info_names_a_corrupt_chunk(run_store: Path, capsys) -> None:
    chunk = run_store / "runs/r1/lf/done/c/1"
    chunk.write_bytes(b"not zstd")
    assert main(["info", str(run_store)]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"refsr: error: {chunk}: corrupt chunk (")


def test_info_verify_names_a_corrupt_view_chunk(run_store: Path, capsys) -> None:
    chunk = run_store / "scenes/lf/views/c/1/2/0/0/0"
    chunk.write_bytes(b"not zstd")
    assert main(["info", str(run_store)]) == 0  # not read without --verify
    capsys.readouterr()
    assert main(["info", str(run_store), "--verify"]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"refsr: error: {chunk}: corrupt chunk")



def test_reading_a_corrupt_chunk_names_it(run_store: Path) -> None:
    """What pipelines read (views, frames, results) names a corrupt chunk's file, as `info` does."""
    view_chunk = run_store / "scenes/lf/views/c/1/2/0/0/0"
    view_chunk.write_bytes(b"not zstd")
    zarr_store.write_target(run_store, "r1", "lf", 2, np.full((H, 64, 3), 7, np.uint8))  # done, not evaluated
    result_chunk = run_store / "runs/r1/lf/sr/c/2/0/0/0"
    result_chunk.write_bytes(b"not zstd")
    for read in (lambda: zarr_store.read_view(run_store, "lf", 1, 2), lambda: runs.hr_image(run_store, "lf", [1, 2])):
        with pytest.raises(InputError, match=r": corrupt chunk \(") as caught:
            read()
        assert caught.value.path == str(view_chunk)
    with pytest.raises(InputError, match="corrupt chunk") as caught:
        runs.evaluate_target(run_store, "r1", "lf", 2)
    assert caught.value.path == str(result_chunk)
    np.testing.assert_array_equal(zarr_store.read_view(run_store, "lf", 1, 1), _lightfield(1).views[1, 1])


def test_partial_files_of_killed_writes_are_listed_and_removed(run_store: Path, capsys) -> None:
    """Zarr writes each file as `<name>.<hex>.partial` and renames it; a killed write leaves that copy."""
    old = run_store / "runs/r1/lf/sr/c/2/0/0/0.0123456789abcdef.partial"
    young = run_store / "runs/r1/lf/sr/c/3/0/0/0.fedcba9876543210.partial"
    for path in (old, young):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a chunk")
    stamp = time.time() - zarr_store.PARTIAL_AGE_S - 5
    os.utime(old, (stamp, stamp))
    assert main(["info", str(run_store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["staging"]["partial"] == [str(old)]
    assert main(["info", str(run_store)]) == 0
    assert "1 partial file(s) of killed writes in runs, removed on the next write" in capsys.readouterr().out
    zarr_store.create_run(run_store, "r2", "lf", TARGETS[:1], (H, 64), RUN)  # the next write
    assert not old.exists() and young.exists()  # a young one may be a write in progress


def test_waiting_for_another_process_claim_says_who_holds_it(run_store: Path, caplog) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, numpy as np; from refsr import store as zarr_store\n"
         f"assert zarr_store.claim_target({str(run_store)!r}, 'r1', 'lf', 3)\nprint('held', flush=True)\n"
         "sys.stdin.read()\n"
         f"zarr_store.write_target({str(run_store)!r}, 'r1', 'lf', 3, np.zeros(({H}, 64, 3), np.uint8))"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result: list[bool] = []
        with caplog.at_level("INFO", logger="refsr.store"):
            waiter = threading.Thread(target=lambda: result.append(zarr_store.claim_target(run_store, "r1", "lf", 3)))
            waiter.start()
            for _ in range(200):
                if caplog.records:
                    break
                time.sleep(0.05)
            holder.stdin.close()  # the holder writes the target and exits
            waiter.join(timeout=60)
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
    assert result == [False]  # done by the holder: not computed again
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"target 3 of run r1/lf: process {holder.pid} on ") and "waiting" in message


def test_info_names_corrupt_metadata(run_store: Path, capsys) -> None:
    meta = run_store / "runs/r1/lf/psnr/zarr.json"
    meta.write_text("{")
    assert main(["info", str(run_store)]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"refsr: error: {meta}: corrupt Zarr metadata")


def test_missing_view_chunk_is_reported_not_read_as_zeros(run_store: Path, capsys) -> None:
    chunk = run_store / "scenes/lf/views/c/0/1/0/0/0"
    chunk.unlink()
    assert main(["info", str(run_store)]) == 2
    out, err = capsys.readouterr()
    assert "MISSING 1 chunk(s)" in out
    assert err.strip().splitlines()[-1].startswith(f"refsr: error: {chunk}: missing chunk of scene 'lf'")
    with pytest.raises(InputError, match="missing chunk") as caught:
        zarr_store.read_view(run_store, "lf", 0, 1)
    assert caught.value.path == str(chunk)
    np.testing.assert_array_equal(zarr_store.read_view(run_store, "lf", 0, 2), _lightfield(1).views[0, 2])


def test_missing_result_of_a_done_target_is_reported(run_store: Path, capsys) -> None:
    chunk = run_store / "runs/r1/lf/sr/c/1/0/0/0"
    chunk.unlink()
    assert main(["info", str(run_store)]) == 2
    assert _error_lines(capsys)[-1].startswith(f"refsr: error: {chunk}: missing chunk of a done target")


def test_info_json_has_what_the_text_has(run_store: Path, capsys) -> None:
    (run_store / "scenes" / ".tmp-old-0123456789ab").mkdir()  # a killed writer's leftover
    live = run_store / "runs" / ".tmp-r2-0123456789ab"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a live writer holds it
        assert main(["info", str(run_store), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert main(["info", str(run_store)]) == 0
        text = capsys.readouterr().out
        # the next write removes the stale one only
        zarr_store.create_run(run_store, "r3", "lf", TARGETS[:1], (H, 64), RUN)
        assert not (run_store / "scenes" / ".tmp-old-0123456789ab").exists() and live.exists()
    finally:
        os.close(fd)
    assert [s["name"] for s in info["scenes"]] == ["lf"] and info["scenes"][0]["kind"] == "lightfield"
    assert info["scenes"][0]["arrays"]["views"]["dims"] == ["u", "v", "y", "x", "c"]
    (run,) = info["runs"]
    assert (run["run_id"], run["scene"], run["method"], run["n"], run["done"]) == ("r1", "lf", "bicubic", 8, 2)
    assert run["targets"][0] == {"index": 0, "target": [0, 1], "done": True, "psnr": 30.0, "psnr_y": 31.0,
                                 "ssim": 0.9}
    assert run["targets"][2]["psnr"] is None and run["mean"]["psnr"] == 30.5
    assert [Path(p).name for p in info["staging"]["stale"]] == [".tmp-old-0123456789ab"]
    assert [Path(p).name for p in info["staging"]["live"]] == [".tmp-r2-0123456789ab"]
    assert info["problems"] == []
    assert "1 stale staging folder(s), removed on the next write" in text
    assert "1 staging folder(s) being written by running processes" in text
    assert "r1/lf  method=bicubic" in text and "done 2/8" in text


def test_info_on_an_abandoned_store_folder_says_so_and_ingest_starts_afresh(tmp_path: Path, capsys) -> None:
    """What an interrupted ingest of an older refsr left: a folder with only a staging scene."""
    store = tmp_path / "s.zarr"
    (store / "scenes" / ".tmp-lf-0123456789ab" / "views").mkdir(parents=True)
    assert main(["info", str(store)]) == 2
    assert "only the staging folders of an interrupted ingest" in _error_lines(capsys)[0]
    assert zarr_store.ingest_lightfield(store, "lf", _lightfield(1)) == "ingested"
    assert zarr_store.scene_names(store) == ["lf"] and _staging(store) == []
