"""The Zarr store: real scenes in, dims and chunks as README "The Zarr store" says, nothing half-written."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from refsr import store as zarr_store
from refsr.errors import InputError
from refsr.io.lightfield import read_lightfield
from refsr.io.sintel import read_clip

RUN_ATTRS = {"method": "bicubic", "weights": None, "reference": [1, 0], "fusion": "mask", "device": "cpu",
             "params": {"scale": 8}}


@pytest.fixture(scope="module")
def antinous(hci_antinous: Path):
    return read_lightfield(hci_antinous)


@pytest.fixture(scope="module")
def alley(sintel_root: Path):
    return read_clip(sintel_root, "alley_1", "final")


@pytest.fixture
def small_lf(antinous):
    """A 3x3 corner of the real HCI grid: real views, quick to write."""
    return dataclasses.replace(antinous, views=antinous.views[:3, :3].copy(), present=antinous.present[:3, :3].copy())


def test_hci_scene_layout_dims_and_xarray(tmp_path: Path, antinous) -> None:
    path = tmp_path / "s.zarr"
    assert zarr_store.ingest_lightfield(path, "antinous", antinous) == "ingested"
    g = zarr_store.open_store(path)
    views = g["scenes/antinous/views"]
    assert views.shape == (9, 9, 512, 512, 3) and views.dtype == np.uint8
    assert views.chunks == (1, 1, 512, 512, 3) and views.shards is None
    attrs = g["scenes/antinous"].attrs
    assert attrs["kind"] == "lightfield" and attrs["grid"] == [9, 9] and attrs["reader"] == "hci"
    assert attrs["disparity_view"] == [4, 4] and attrs["refsr_version"]
    ds = xr.open_zarr(path, group="scenes/antinous", consolidated=False)
    assert ds["views"].dims == ("u", "v", "y", "x", "c") and ds["views"].dtype == np.uint8
    assert ds["present"].dims == ("u", "v") and bool(ds["present"].all())
    assert ds["disparity"].dims == ("y", "x") and ds["disparity"].dtype == np.float32
    np.testing.assert_array_equal(zarr_store.read_view(path, "antinous", 1, 7), antinous.views[1, 7])
    assert zarr_store.scene_names(path) == ["antinous"]


def test_sintel_scene_keeps_frame_numbers_and_missing_flow(tmp_path: Path, alley) -> None:
    path = tmp_path / "s.zarr"
    assert zarr_store.ingest_video(path, "alley_1", alley) == "ingested"
    ds = xr.open_zarr(path, group="scenes/alley_1", consolidated=False)
    assert ds["frames"].shape == (4, 436, 1024, 3) and ds["frames"].dims == ("t", "y", "x", "c")
    assert ds["flow"].dims == ("t", "y", "x", "uv") and ds["occlusions"].dims == ("t", "y", "x")
    assert ds["frame_numbers"].values.tolist() == [1, 2, 3, 4]
    flow = ds["flow"].values
    np.testing.assert_array_equal(flow[0], alley.flow[1])
    assert np.isnan(flow[3]).all()  # frame 4 has no flow 4 -> 5
    attrs = zarr_store.open_store(path)["scenes/alley_1"].attrs
    assert attrs["kind"] == "video" and attrs["frames"] == 4 and attrs["occlusion_frames"] == [2]
    np.testing.assert_array_equal(ds["occlusions"].values[1], alley.occlusions[2])
    assert not ds["occlusions"].values[0].any()
    np.testing.assert_array_equal(zarr_store.read_frame(path, "alley_1", 2), alley.frames[2])


def test_read_only_open_refuses_writes(tmp_path: Path, small_lf) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "corner", small_lf)
    g = zarr_store.open_store(path)
    with pytest.raises(ValueError):
        g["scenes/corner/views"][0, 0] = 0
    with pytest.raises(ValueError):
        g["scenes/corner"].attrs["kind"] = "video"
    np.testing.assert_array_equal(zarr_store.read_view(g, "corner", 0, 0), small_lf.views[0, 0])


def test_reingest_is_a_noop_and_different_content_needs_overwrite(tmp_path: Path, small_lf) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "corner", small_lf)
    stored = zarr_store.open_store(path)["scenes/corner"].attrs["source_sha256"]
    assert stored == zarr_store.scene_sha256(path, "corner")  # the hash can be re-checked from the store alone
    meta = path / "scenes" / "corner" / "zarr.json"
    before = meta.read_bytes()
    assert zarr_store.ingest_lightfield(path, "corner", small_lf) == "unchanged"
    assert meta.read_bytes() == before  # not even the ingested_at stamp moved
    flipped = dataclasses.replace(small_lf, views=small_lf.views[:, ::-1].copy())
    with pytest.raises(InputError, match="already exists with different content"):
        zarr_store.ingest_lightfield(path, "corner", flipped)
    np.testing.assert_array_equal(zarr_store.read_view(path, "corner", 0, 0), small_lf.views[0, 0])
    assert zarr_store.ingest_lightfield(path, "corner", flipped, overwrite=True) == "replaced"
    np.testing.assert_array_equal(zarr_store.read_view(path, "corner", 0, 0), small_lf.views[0, 2])
    assert sorted(p.name for p in (path / "scenes").iterdir()) == ["corner", "zarr.json"]


def _fail_on(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make writing array `name` fail, as a full disk would (synthetic: real data cannot fail mid-write)."""
    original = zarr_store._add_array

    def flaky(group, key, *args, **kwargs):
        if key == name:
            raise OSError(28, "No space left on device")
        return original(group, key, *args, **kwargs)

    monkeypatch.setattr(zarr_store, "_add_array", flaky)


def test_failed_ingest_into_new_store_leaves_nothing(tmp_path: Path, small_lf, monkeypatch) -> None:
    path = tmp_path / "new.zarr"
    _fail_on("present", monkeypatch)  # views are already written when this fails
    with pytest.raises(OSError):
        zarr_store.ingest_lightfield(path, "corner", small_lf)
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nor its staging copy next to it


def test_failed_ingest_into_existing_store_keeps_the_rest(tmp_path: Path, small_lf, alley, monkeypatch) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "corner", small_lf)
    _fail_on("flow", monkeypatch)
    with pytest.raises(OSError):
        zarr_store.ingest_video(path, "alley_1", alley)
    assert zarr_store.scene_names(path) == ["corner"]
    assert sorted(p.name for p in (path / "scenes").iterdir()) == ["corner", "zarr.json"]  # no .tmp-* left
    flipped = dataclasses.replace(small_lf, views=small_lf.views[::-1].copy())
    _fail_on("present", monkeypatch)
    with pytest.raises(OSError):
        zarr_store.ingest_lightfield(path, "corner", flipped, overwrite=True)
    np.testing.assert_array_equal(zarr_store.read_view(path, "corner", 0, 0), small_lf.views[0, 0])  # old scene intact


def test_run_resumes_keeps_done_targets_and_opens_in_xarray(tmp_path: Path, alley) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_video(path, "alley_1", alley)
    targets, shape = [(1, 0), (2, 0), (3, 0)], (432, 1024)
    assert zarr_store.create_run(path, "r1", "alley_1", targets, shape, RUN_ATTRS, confidence=True) == "created"
    sr = alley.frames[1, :432]
    zarr_store.write_target(path, "r1", "alley_1", 0, sr, confidence=np.full(shape, 0.5, np.float32))
    chunk_files = {p.name for p in (path / "runs/r1/alley_1/sr/c").iterdir()}
    assert chunk_files == {"0"}  # only target 0's chunk exists
    resumed = zarr_store.create_run(path, "r1", "alley_1", targets, shape, {**RUN_ATTRS, "device": "cuda"},
                                    confidence=True)
    assert resumed == "resumed"  # another device is the same run
    assert zarr_store.pending_targets(path, "r1", "alley_1") == [1, 2]
    np.testing.assert_array_equal(zarr_store.read_target(path, "r1", "alley_1", 0), sr)
    with pytest.raises(InputError, match="exists with other settings"):
        zarr_store.create_run(path, "r1", "alley_1", targets, shape, {**RUN_ATTRS, "method": "refsr"}, confidence=True)
    with pytest.raises(ValueError, match="unfinished targets"):
        zarr_store.finish_run(path, "r1", "alley_1")
    zarr_store.write_metrics(path, "r1", "alley_1", 0, 30.0, 31.0, 0.9)

    ds = xr.open_zarr(path, group="runs/r1/alley_1", consolidated=False)
    assert ds["sr"].dims == ("target", "y", "x", "c") and ds["sr"].shape == (3, 432, 1024, 3)
    assert ds["confidence"].dims == ("target", "y", "x") and ds["confidence"].dtype == np.float16
    assert ds["targets"].values.tolist() == [[1, 0], [2, 0], [3, 0]]
    psnr = ds["psnr"].values
    assert psnr[0] == 30.0 and np.isnan(psnr[1:]).all()
    assert ds["done"].values.tolist() == [True, False, False]
    assert ds.attrs["finished"] is None and ds.attrs["method"] == "bicubic"


def test_concurrent_target_writes_all_survive(tmp_path: Path, small_lf) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "corner", small_lf)
    targets = [(u, v) for u in range(3) for v in range(3)]
    zarr_store.create_run(path, "all", "corner", targets, (512, 512), RUN_ATTRS)

    def task(i: int) -> None:
        u, v = targets[i]
        zarr_store.write_target(path, "all", "corner", i, small_lf.views[u, v])
        zarr_store.write_metrics(path, "all", "corner", i, float(i), float(i), 0.5)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(task, range(len(targets))))
    assert zarr_store.pending_targets(path, "all", "corner") == []
    assert zarr_store.finish_run(path, "all", "corner")
    g = zarr_store.run_group(path, "all", "corner")
    assert np.asarray(g["psnr"][:]).tolist() == [float(i) for i in range(9)]
    np.testing.assert_array_equal(g["sr"][4], small_lf.views[1, 1])
    text = zarr_store.describe(path)
    assert "all/corner  method=bicubic" in text and "done 9/9" in text and "finished 20" in text


def test_describe_lists_the_first_targets_or_all_of_them(tmp_path: Path, small_lf) -> None:
    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "corner", small_lf)
    targets = [(u, v) for u in range(3) for v in range(3)]
    zarr_store.create_run(path, "all", "corner", targets, (512, 512), RUN_ATTRS)
    short = zarr_store.describe(path, max_rows=4)
    assert "(1, 0)" in short and "(1, 1)" not in short and "… 5 more targets (refsr info --all lists them)" in short
    full = zarr_store.describe(path, max_rows=None)
    assert all(f"({u}, {v})" in full for u, v in targets) and "more targets" not in full


def test_cli_info_all(tmp_path: Path, antinous, capsys) -> None:
    from refsr.cli import main

    path = tmp_path / "s.zarr"
    zarr_store.ingest_lightfield(path, "antinous", antinous)
    targets = [(u, v) for u in range(9) for v in range(9) if (u, v) != (0, 0)]  # more than zarr_store.INFO_ROWS
    zarr_store.create_run(path, "all", "antinous", targets, (512, 512), RUN_ATTRS)
    assert main(["info", str(path)]) == 0
    assert f"{len(targets) - zarr_store.INFO_ROWS} more targets" in capsys.readouterr().out
    assert main(["info", str(path), "--all"]) == 0
    out = capsys.readouterr().out
    assert "(8, 8)" in out and "more targets" not in out
