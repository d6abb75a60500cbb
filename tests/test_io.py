"""Dataset readers: real data first (Sintel, HCI, Middlebury, skimage sample), then bad inputs."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from refsr.errors import InputError
from refsr.io import (
    HCI_DISPARITY_SIGN,
    LightField,
    clip_scene_name,
    clips_with_pass,
    consecutive_pairs,
    list_clips,
    motorcycle_sample,
    read_clip,
    read_flo,
    read_hci,
    read_hdf5,
    read_image,
    read_lightfield,
    read_mask,
    read_middlebury,
    read_pfm,
    read_uv_folder,
    scene_name,
    stereo_pair,
    write_flo,
    write_hdf5,
    write_image,
    write_pfm,
)

# PROVENANCE.md, clip table: clip -> (clean frames, final frames, flow k -> k+1, masks)
SINTEL_CLIPS = {
    "alley_1": ([1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3], [2]),
    "alley_2": ([1, 2, 3, 4], [], [2], [2]),
    "cave_2": ([1, 2, 3, 4], [1, 2, 3, 4], [2], [2]),
    "market_5": ([1, 2, 3, 4], [1, 2, 3, 4, 8, 9, 10, 11], [2, 9], [2, 9]),
    "ambush_4": ([], [3, 4, 5, 6, 7, 8], [4, 6], [4, 6]),
    "bandage_1": ([], [34, 35, 36, 37], [35], [35]),
    "cave_4": ([], [40, 41, 42, 43], [41], [41]),
    "ambush_2": ([], [20, 21], [20], [20]),
}


def warp(image: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample `image` bilinearly at (y + dy, x + dx); also return where that lies inside the image."""
    h, w = image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    sy, sx = y + dy, x + dx
    inside = (sy >= 0) & (sy <= h - 1) & (sx >= 0) & (sx <= w - 1)
    coords = np.stack([np.nan_to_num(sy), np.nan_to_num(sx)])
    out = np.stack([map_coordinates(image[..., c].astype(np.float32), coords, order=1, mode="nearest")
                    for c in range(image.shape[2])], axis=-1)
    return out, inside


def mean_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32))[mask].mean())


# --- Sintel -------------------------------------------------------------------------------


def test_every_sintel_flow_has_frame_size_and_finite_values(sintel_root: Path) -> None:
    files = sorted((sintel_root / "flow").glob("*/frame_*.flo"))
    assert len(files) == 12
    for path in files:
        flow = read_flo(path)
        assert flow.shape == (436, 1024, 2) and flow.dtype == np.float32, path
        assert np.isfinite(flow).all(), path
        assert np.abs(flow).max() > 1, path  # real motion, not an empty file


def test_list_clips_matches_provenance(sintel_root: Path) -> None:
    clips = list_clips(sintel_root)
    assert sorted(clips) == sorted(SINTEL_CLIPS)
    for name, (clean, final, flow, masks) in SINTEL_CLIPS.items():
        info = clips[name]
        assert info.passes.get("clean", []) == clean, name
        assert info.passes.get("final", []) == final, name
        assert info.flow == flow, name
        assert info.occlusions == masks and info.invalid == masks, name


def test_clips_with_pass_keeps_the_clips_that_have_it(sintel_root: Path) -> None:
    clips = list_clips(sintel_root)
    assert clips_with_pass(clips, "final") == sorted(n for n, c in SINTEL_CLIPS.items() if c[1])
    assert clips_with_pass(clips, "albedo") == []


def test_scene_name_is_a_file_stem_or_a_folder_name(tmp_path: Path) -> None:
    (tmp_path / "bunny.h5").write_bytes(b"")
    assert scene_name(tmp_path / "bunny.h5") == "bunny"
    assert scene_name(tmp_path / ".") == tmp_path.name


def test_read_clip_with_gaps_attaches_only_existing_flow_and_masks(sintel_root: Path) -> None:
    clip = read_clip(sintel_root, "market_5", "final", frames=[3, 4, 8, 9, 10])
    assert clip.numbers == [3, 4, 8, 9, 10]
    assert clip.frames.shape == (5, 436, 1024, 3) and clip.frames.dtype == np.uint8
    assert list(clip.flow) == [9] and list(clip.occlusions) == [9] and list(clip.invalid) == [9]
    assert consecutive_pairs(clip) == [(3, 4), (8, 9), (9, 10)]
    assert clip.invalid[9].dtype == bool


def test_sintel_flow_sign_warps_next_frame_onto_current(sintel_root: Path) -> None:
    clip = read_clip(sintel_root, "alley_1", "final", frames=[2, 3])
    flow = clip.flow[2]
    occluded, invalid = clip.occlusions[2], clip.invalid[2]
    assert 0 < occluded.mean() < 0.2  # mask True = occluded: a minority of pixels
    f2, f3 = clip.frames
    warped, inside = warp(f3, flow[..., 1], flow[..., 0])  # frame t+1 sampled at (x + u, y + v)
    valid = inside & ~occluded & ~invalid
    with_flow = mean_error(warped, f2, valid)
    opposite, inside_opp = warp(f3, -flow[..., 1], -flow[..., 0])
    assert with_flow < 0.5 * mean_error(f3, f2, valid)
    assert with_flow < mean_error(opposite, f2, inside_opp & ~occluded & ~invalid)
    # occluded pixels have no match in frame t+1, so they warp worse than visible ones
    assert mean_error(warped, f2, inside & occluded) > with_flow


# --- HCI ----------------------------------------------------------------------------------


@pytest.mark.parametrize("view", [(4, 5), (3, 3)])
def test_hci_disparity_sign(hci_antinous: Path, view: tuple[int, int]) -> None:
    u, v = view
    c = 4
    centre = read_image(hci_antinous / "input_Cam040.png")
    other = read_image(hci_antinous / f"input_Cam{u * 9 + v:03d}.png")
    d = read_pfm(hci_antinous / "gt_disp_lowres.pfm")
    assert d.shape == (512, 512) and np.isfinite(d).all()
    errors = {}
    for s in (1, -1):
        warped, inside = warp(other, s * d * (u - c), s * d * (v - c))
        border = np.zeros_like(inside)
        border[8:-8, 8:-8] = True
        errors[s] = mean_error(warped, centre, inside & border)
    unwarped = mean_error(other, centre, border)
    assert HCI_DISPARITY_SIGN == -1
    assert errors[HCI_DISPARITY_SIGN] < errors[-HCI_DISPARITY_SIGN]
    assert errors[HCI_DISPARITY_SIGN] < unwarped


def test_read_hci_full_scene(hci_antinous: Path) -> None:
    lf = read_lightfield(hci_antinous)
    assert lf.reader == "hci" and lf.grid == (9, 9) and lf.missing == []
    assert lf.views.shape == (9, 9, 512, 512, 3) and lf.disparity_view == (4, 4)
    # row-major indexing: view (4, 4) is input_Cam040, view (0, 8) is input_Cam008
    assert np.array_equal(lf.views[4, 4], read_image(hci_antinous / "input_Cam040.png"))
    assert np.array_equal(lf.views[0, 8], read_image(hci_antinous / "input_Cam008.png"))
    # the scene's gt_disp_lowres.pfm is attached as read by read_pfm (flipped to image orientation)
    assert np.array_equal(lf.disparity, read_pfm(hci_antinous / "gt_disp_lowres.pfm"))


def test_pfm_is_flipped_to_image_orientation(hci_antinous: Path) -> None:
    d = read_pfm(hci_antinous / "gt_disp_lowres.pfm")
    grey = read_image(hci_antinous / "input_Cam040.png").astype(np.float32).mean(axis=2)

    def edge_corr(a: np.ndarray) -> float:
        ga, gb = np.hypot(*np.gradient(a)), np.hypot(*np.gradient(grey))
        return float(np.corrcoef(ga.ravel(), gb.ravel())[0, 1])

    assert edge_corr(d) > edge_corr(np.flipud(d)) + 0.1


# --- Middlebury and the skimage sample ----------------------------------------------------


def test_middlebury_disparity_warps_right_onto_left(data_root: Path) -> None:
    folder = data_root / "middlebury" / "cones"
    if not folder.is_dir():
        pytest.skip(f"Middlebury cones not found at {folder}")
    lf = read_middlebury(folder)
    assert lf.grid == (1, 2) and lf.reader == "stereo" and lf.disparity_view == (0, 0)
    left, right, d = lf.views[0, 0], lf.views[0, 1], lf.disparity
    known = np.isfinite(d)
    assert 0.9 < known.mean() < 1 and np.nanmax(d) == 55.0  # 0 -> NaN, value / 4
    warped, inside = warp(right, np.zeros_like(d), -np.nan_to_num(d))
    assert mean_error(warped, left, inside & known) < 0.5 * mean_error(right, left, known)


def test_motorcycle_sample() -> None:
    lf = motorcycle_sample()
    assert lf.grid == (1, 2) and lf.views.shape[2:] == (500, 741, 3)
    assert lf.source == "skimage.data.stereo_motorcycle" and lf.disparity_view == (0, 0)
    d = lf.disparity
    unknown = np.isnan(d)
    assert 0 < unknown.mean() < 0.5 and np.isfinite(d[~unknown]).all()
    left, right = lf.views[0]
    warped, inside = warp(right, np.zeros_like(d), -np.nan_to_num(d))
    assert mean_error(warped, left, inside & ~unknown) < 0.5 * mean_error(right, left, ~unknown)


# --- round trips --------------------------------------------------------------------------


def test_flo_round_trip_is_exact(tmp_path: Path) -> None:
    flow = np.random.default_rng(0).normal(0, 30, (37, 53, 2)).astype(np.float32)
    write_flo(tmp_path / "f.flo", flow)
    assert (tmp_path / "f.flo").stat().st_size == 12 + 37 * 53 * 8
    assert np.array_equal(read_flo(tmp_path / "f.flo"), flow)
    assert [p.name for p in tmp_path.iterdir()] == ["f.flo"]  # no temp file left behind


@pytest.mark.parametrize("shape", [(19, 23), (19, 23, 3)])
def test_pfm_round_trip_is_exact(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(1).normal(0, 3, shape).astype(np.float32)
    array[0, 0] = np.inf
    write_pfm(tmp_path / "a.pfm", array)
    assert np.array_equal(read_pfm(tmp_path / "a.pfm"), array)


def test_pfm_reads_big_endian(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    (tmp_path / "be.pfm").write_bytes(b"Pf\n4 3\n1.0\n" + np.flipud(array).astype(">f4").tobytes())
    assert np.array_equal(read_pfm(tmp_path / "be.pfm"), array)


def test_hdf5_round_trip_is_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    views = rng.integers(0, 256, (2, 3, 64, 70, 3), dtype=np.uint8)
    present = np.ones((2, 3), bool)
    present[1, 2] = False
    views[1, 2] = 0
    disparity = rng.normal(0, 1, (64, 70)).astype(np.float32)
    disparity[5, 5] = np.nan
    lf = LightField(views, present, disparity, (1, 1), "synthetic", "uv-folder")
    write_hdf5(tmp_path / "lf.h5", lf)
    with h5py.File(tmp_path / "lf.h5") as f:
        assert f["views"].chunks == (1, 1, 64, 70, 3)
    back = read_lightfield(tmp_path / "lf.h5")
    assert back.reader == "hdf5" and back.source == "synthetic" and back.disparity_view == (1, 1)
    assert np.array_equal(back.views, views) and np.array_equal(back.present, present)
    assert np.array_equal(back.disparity, disparity, equal_nan=True)
    assert back.missing == [(1, 2)]


def test_image_round_trip_and_mask(tmp_path: Path) -> None:
    image = np.random.default_rng(3).integers(0, 256, (65, 66, 3), dtype=np.uint8)
    write_image(tmp_path / "i.png", image)
    assert np.array_equal(read_image(tmp_path / "i.png"), image)
    mask = np.zeros((65, 66), np.uint8)
    mask[3:9, 4:6] = 255
    write_image(tmp_path / "m.png", mask)
    assert np.array_equal(read_mask(tmp_path / "m.png"), mask > 0)
    assert np.array_equal(read_image(tmp_path / "m.png"), np.repeat(mask[..., None], 3, axis=2))


# --- light-field grids: fixed by the names, never re-indexed; missing views kept as not present ----------


def hci_folder(folder: Path, cameras, size: int = 64) -> Path:
    """An HCI-named folder of synthetic views: input_CamNNN.png is filled with the value NNN."""
    folder.mkdir(exist_ok=True)
    for n in cameras:
        write_image(folder / f"input_Cam{n:03d}.png", np.full((size, size, 3), n, np.uint8))
    return folder


def view_numbers(lf: LightField) -> np.ndarray:
    """The camera number each grid position holds (its fill value), -1 where not present."""
    return np.where(lf.present, lf.views[:, :, 0, 0, 0].astype(int), -1)


def missing_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "refsr.io.lightfield" and r.levelname == "WARNING"]


def test_hci_missing_last_rows_keep_the_9x9_grid(tmp_path: Path, caplog) -> None:
    lf = read_hci(hci_folder(tmp_path / "scene", range(63)))  # rows 7 and 8 (Cam063..Cam080) absent
    assert lf.grid == (9, 9) and lf.reader == "hci"
    expected = np.arange(81).reshape(9, 9)
    expected[7:] = -1
    assert np.array_equal(view_numbers(lf), expected)  # Cam009 stays (1, 0): nothing is re-indexed
    assert lf.missing == [(u, v) for u in (7, 8) for v in range(9)] and not lf.views[7:].any()
    (line,) = missing_warnings(caplog)
    assert line.startswith(f"{tmp_path / 'scene'}: 18 of 81 views of the 9x9 grid missing, kept as not present: "
                           "input_Cam063.png (7, 0); input_Cam064.png (7, 1); ")
    assert line.endswith("input_Cam080.png (8, 8)") and "\n" not in line


def test_hci_missing_centre_view_is_reported(tmp_path: Path, caplog) -> None:
    lf = read_lightfield(hci_folder(tmp_path / "scene", [n for n in range(81) if n != 40]))
    assert lf.missing == [(4, 4)] and view_numbers(lf)[4, 5] == 41
    (line,) = missing_warnings(caplog)
    assert line.endswith("1 of 81 views of the 9x9 grid missing, kept as not present: "
                         "input_Cam040.png (4, 4) = centre view")


def test_a_complete_grid_says_nothing(tmp_path: Path, caplog) -> None:
    lf = read_hci(hci_folder(tmp_path / "scene", range(81)))
    assert lf.missing == [] and np.array_equal(view_numbers(lf), np.arange(81).reshape(9, 9))
    assert missing_warnings(caplog) == []


def test_sparse_hci_views_stay_where_their_numbers_put_them(tmp_path: Path) -> None:
    lf = read_hci(hci_folder(tmp_path, (0, 4, 7)))
    assert lf.grid == (9, 9) and lf.disparity is None
    assert [(u, v) for u, v in zip(*np.nonzero(lf.present))] == [(0, 0), (0, 4), (0, 7)]
    assert view_numbers(lf)[0, 7] == 7 and not lf.views[2, 2].any()


def test_hci_grid_from_parameters_cfg(tmp_path: Path) -> None:
    folder = hci_folder(tmp_path, range(15))
    (folder / "parameters.cfg").write_text("[intrinsics]\nimage_resolution_x_px = 64\n\n"
                                           "[extrinsics]\nnum_cams_x = 5\nnum_cams_y = 3\nbaseline_mm = 50%\n")
    lf = read_hci(folder)
    assert lf.grid == (3, 5) and lf.missing == []
    assert np.array_equal(view_numbers(lf), np.arange(15).reshape(3, 5))  # row-major: Cam007 is (1, 2)


def test_hci_camera_beyond_the_grid_is_refused(tmp_path: Path) -> None:
    folder = hci_folder(tmp_path, (0, 81))
    with raises_naming("input_Cam081.png") as err:
        read_hci(folder)
    assert "camera 81 is beyond the 9x9 grid of HCI scenes without parameters.cfg (cameras 0..80)" in str(err.value)
    (folder / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 3\n")
    (folder / "input_Cam081.png").unlink()
    hci_folder(folder, [9])
    with raises_naming("input_Cam009.png") as err:
        read_hci(folder)
    assert "beyond the 3x3 grid by parameters.cfg (cameras 0..8)" in str(err.value)


@pytest.mark.parametrize("text", ["num_cams_x = 9\n", "[extrinsics]\nnum_cams_x = 9\n",
                                  "[extrinsics]\nnum_cams_x = nine\nnum_cams_y = 9\n",
                                  "[extrinsics]\nnum_cams_x = 0\nnum_cams_y = 9\n"])
def test_unusable_parameters_cfg_is_refused(tmp_path: Path, text: str) -> None:
    folder = hci_folder(tmp_path, [0])
    (folder / "parameters.cfg").write_text(text)
    with raises_naming("parameters.cfg") as err:
        read_hci(folder)
    assert "\n" not in str(err.value)


def test_two_files_for_one_view_are_refused(tmp_path: Path) -> None:
    folder = hci_folder(tmp_path / "hci", [40])
    write_image(folder / "input_Cam40.png", np.zeros((64, 64, 3), np.uint8))
    with raises_naming("hci") as err:
        read_hci(folder)
    assert "input_Cam040.png and input_Cam40.png are both view (4, 4)" in str(err.value)
    folder = tmp_path / "uv"
    for name in ("0_1.png", "00_01.png"):
        write_image(folder / name, np.zeros((64, 64, 3), np.uint8))
    with raises_naming("uv") as err:
        read_uv_folder(folder)
    assert "are both view (0, 1)" in str(err.value)


def test_uv_folder_hole_is_kept_as_not_present(tmp_path: Path, caplog) -> None:
    for u in range(3):
        for v in range(2):
            if (u, v) != (1, 1):
                write_image(tmp_path / f"{u}_{v}.png", np.full((64, 64, 3), 10 * u + v, np.uint8))
    lf = read_lightfield(tmp_path)
    assert lf.grid == (3, 2) and lf.missing == [(1, 1)]
    assert np.array_equal(view_numbers(lf), [[0, 1], [10, -1], [20, 21]])
    (line,) = missing_warnings(caplog)
    assert line.endswith("1 of 6 views of the 3x2 grid missing, kept as not present: 1_1.png (1, 1) = centre view")


def test_hdf5_missing_views_are_reported_naming_the_file(tmp_path: Path, caplog) -> None:
    lf = read_hci(hci_folder(tmp_path / "scene", [n for n in range(81) if n != 80]))
    write_hdf5(tmp_path / "lf.h5", lf)
    caplog.clear()
    back = read_hdf5(tmp_path / "lf.h5")
    assert back.missing == [(8, 8)] and np.array_equal(back.views, lf.views)
    (line,) = missing_warnings(caplog)
    assert line == f"{tmp_path / 'lf.h5'}: 1 of 81 views of the 9x9 grid missing, kept as not present: (8, 8)"


def test_hdf5_present_mask_must_fit_the_views(tmp_path: Path) -> None:
    views = np.ones((2, 2, 64, 64, 3), np.uint8)
    path = tmp_path / "bad.h5"
    for present in ([[True, False], [True, True]], [[False, False], [False, False]]):
        with h5py.File(path, "w") as f:
            f["views"] = views
            f["present"] = np.array(present)
        with raises_naming("bad.h5") as err:
            read_hdf5(path)
        assert "missing" in str(err.value)
    with h5py.File(path, "w") as f:
        f["views"] = views
        f["disparity"] = np.zeros((64, 64), np.float32)
        f.attrs["disparity_view"] = np.array([2, 0])
    with raises_naming("bad.h5") as err:
        read_hdf5(path)
    assert "disparity_view (2, 0) is outside the 2x2 grid" in str(err.value)


def test_real_hci_scene_with_missing_rows_and_centre(hci_antinous: Path, tmp_path: Path, caplog) -> None:
    keep = [n for n in range(63) if n != 40]
    for n in keep + ["gt_disp_lowres.pfm"]:
        name = n if isinstance(n, str) else f"input_Cam{n:03d}.png"
        (tmp_path / name).symlink_to(hci_antinous / name)
    lf = read_lightfield(tmp_path)
    assert lf.grid == (9, 9) and len(lf.missing) == 19 and (4, 4) in lf.missing and lf.disparity_view == (4, 4)
    assert np.array_equal(lf.views[1, 0], read_image(hci_antinous / "input_Cam009.png"))
    (line,) = missing_warnings(caplog)
    assert "19 of 81 views" in line and "input_Cam040.png (4, 4) = centre view" in line


@pytest.mark.parametrize("kind", ["hci", "hdf5"])
def test_light_field_reading_shows_progress_only_when_asked(tmp_path: Path, capsys, kind: str) -> None:
    path = hci_folder(tmp_path / "scene", range(81))
    if kind == "hdf5":
        write_hdf5(tmp_path / "lf.h5", read_hci(path))
        path = tmp_path / "lf.h5"
    capsys.readouterr()
    quiet = read_lightfield(path)
    assert capsys.readouterr().err == ""
    shown = read_lightfield(path, progress=True)
    assert "views" in capsys.readouterr().err
    assert np.array_equal(quiet.views, shown.views)


# --- bad inputs: each raises InputError naming the file -----------------------------------


def raises_naming(name: str):
    return pytest.raises(InputError, match=name.replace(".", r"\."))


def test_corrupt_png(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with raises_naming("broken.png"):
        read_image(path)
    with raises_naming("absent.png"):
        read_image(tmp_path / "absent.png")


def test_flo_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "magic.flo"
    path.write_bytes(np.array([1.0], "<f4").tobytes() + np.array([2, 2], "<i4").tobytes() + bytes(32))
    with raises_naming("magic.flo") as err:
        read_flo(path)
    assert "magic" in str(err.value)


@pytest.mark.parametrize("extra", [-4, 4])
def test_flo_truncated_or_oversized(tmp_path: Path, extra: int) -> None:
    path = tmp_path / "short.flo"
    write_flo(path, np.zeros((8, 8, 2), np.float32))
    data = path.read_bytes()
    path.write_bytes(data[:extra] if extra < 0 else data + bytes(extra))
    with raises_naming("short.flo") as err:
        read_flo(path)
    assert ("truncated" if extra < 0 else "oversized") in str(err.value)


def test_flo_absurd_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.flo"
    path.write_bytes(np.array([202021.25], "<f4").tobytes() + np.array([200_000, -1], "<i4").tobytes())
    with raises_naming("huge.flo"):
        read_flo(path)


def test_pfm_bad_header_and_size(tmp_path: Path) -> None:
    (tmp_path / "bad.pfm").write_bytes(b"P6\n4 3\n255\n" + bytes(36))
    with raises_naming("bad.pfm"):
        read_pfm(tmp_path / "bad.pfm")
    (tmp_path / "cut.pfm").write_bytes(b"Pf\n4 3\n-1.0\n" + bytes(40))
    with raises_naming("cut.pfm"):
        read_pfm(tmp_path / "cut.pfm")


def fake_sintel(root: Path, flow_shape: tuple[int, int]) -> None:
    frame = np.zeros((64, 80, 3), np.uint8)
    for k in (1, 2):
        write_image(root / "clean" / "toy" / f"frame_{k:04d}.png", frame)
    write_flo(root / "flow" / "toy" / "frame_0001.flo", np.zeros((*flow_shape, 2), np.float32))


def test_sintel_flow_of_wrong_size(tmp_path: Path) -> None:
    fake_sintel(tmp_path, (64, 80))
    assert list(read_clip(tmp_path, "toy", "clean").flow) == [1]
    fake_sintel(tmp_path, (64, 81))
    with raises_naming("frame_0001.flo") as err:
        read_clip(tmp_path, "toy", "clean")
    assert "81x64" in str(err.value) and "80x64" in str(err.value)


def test_sintel_first_frames(tmp_path: Path) -> None:
    fake_sintel(tmp_path, (64, 80))
    assert read_clip(tmp_path, "toy", "clean", first=1).numbers == [1]
    assert read_clip(tmp_path, "toy", "clean", first=5).numbers == [1, 2]
    with pytest.raises(InputError, match="at least 1"):
        read_clip(tmp_path, "toy", "clean", first=0)
    assert clip_scene_name("toy", 1) == "toy-first1" and clip_scene_name("toy") == "toy"


def test_sintel_unknown_clip_or_pass(tmp_path: Path) -> None:
    fake_sintel(tmp_path, (64, 80))
    with raises_naming("nope"):
        read_clip(tmp_path, "nope", "clean")
    with pytest.raises(InputError, match="no 'final' pass"):
        read_clip(tmp_path, "toy", "final")


def test_views_of_different_sizes(tmp_path: Path) -> None:
    write_image(tmp_path / "0_0.png", np.zeros((64, 64, 3), np.uint8))
    write_image(tmp_path / "0_1.png", np.zeros((64, 72, 3), np.uint8))
    with raises_naming("0_1.png") as err:
        read_uv_folder(tmp_path)
    assert "72x64" in str(err.value) and "64x64" in str(err.value)


def test_image_smaller_than_8x8_lr(tmp_path: Path) -> None:
    write_image(tmp_path / "0_0.png", np.zeros((63, 100, 3), np.uint8))
    with raises_naming("0_0.png") as err:
        read_lightfield(tmp_path)
    assert "100x63" in str(err.value)


def test_unreadable_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not an HDF5 file" * 100)
    with raises_naming("garbage.h5"):
        read_hdf5(path)


def test_hdf5_without_views(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f["other"] = np.zeros((4, 4), np.float32)
    with raises_naming("empty.h5"):
        read_lightfield(path)


def test_unknown_lightfield_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(InputError, match="expected input_CamNNN.png"):
        read_lightfield(tmp_path)


def test_stereo_pair_rejects_mismatched_views() -> None:
    with pytest.raises(InputError, match="demo"):
        stereo_pair(np.zeros((64, 64, 3), np.uint8), np.zeros((64, 65, 3), np.uint8), source="demo")
