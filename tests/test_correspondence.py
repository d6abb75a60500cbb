"""Ground-truth correspondences on the real data: the pairs must be photometrically consistent."""
from __future__ import annotations

import numpy as np
import pytest

from refsr.io.lightfield import HCI_DISPARITY_SIGN, read_hci, read_middlebury
from refsr.io.sintel import read_clip
from refsr.correspondence import disparity_correspondence, sintel_correspondence, stereo_correspondence


def _colour_error(a: np.ndarray, pa: np.ndarray, b: np.ndarray, pb: np.ndarray) -> float:
    """Mean |RGB| difference between a at points pa and b at points pb (uint8 images)."""
    return float(np.abs(a[pa[:, 0], pa[:, 1]].astype(float) - b[pb[:, 0], pb[:, 1]].astype(float)).mean())


def test_synthetic_conventions():
    flow = np.zeros((32, 48, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.4, -2.6  # u = dx, v = dy
    occ = np.zeros((32, 48), bool)
    occ[4, 4] = True
    q, p = sintel_correspondence(flow, occ, None, stride=8)
    assert [4, 4] not in p.tolist()
    assert (q - p == [-3, 3]).all()  # round((v, u)) = (-3, 3), (y, x) order
    assert ((q >= 0) & (q < [32, 48])).all()
    q, p = sintel_correspondence(flow, None, None, stride=8, input_shape=(24, 48))
    assert (q[:, 0] < 24).all()

    disp = np.full((40, 40), 1.5)
    c, t = disparity_correspondence(disp, view=(1, 2), centre=(2, 2), sign=-1, stride=8)
    assert len(c) and (t - c == [2, 0]).all()  # -1 * 1.5 * (-1) = 1.5 -> 2 (half-up); v - c = 0
    disp[:, 20:] = 4.0  # a depth edge: points whose displacement crosses it fail the check
    c, t = disparity_correspondence(disp, view=(2, 0), centre=(2, 2), sign=1, stride=4)
    assert not np.isin(c[:, 1], [20, 24]).any()
    disp[0:8, 0:8] = np.nan
    c, _ = disparity_correspondence(disp, view=(2, 0), centre=(2, 2), sign=1, stride=4)
    assert not ((c[:, 0] < 8) & (c[:, 1] < 8)).any()

    left = np.full((16, 40), 3.0)
    left[:, 8:16] = 0
    left[:, 16:24] = np.inf
    c, t = stereo_correspondence(left, stride=8)
    assert (t[:, 1] == c[:, 1] - 3).all() and (t[:, 0] == c[:, 0]).all()
    assert not np.isin(c[:, 1], [12, 20]).any()


@pytest.fixture(scope="module")
def alley(sintel_root):
    return read_clip(sintel_root, "alley_1", "clean", frames=[2, 3])


def test_sintel_pairs_follow_the_flow(alley):
    frame_t, frame_t1 = alley.frames
    occluded, invalid = alley.occlusions[2], alley.invalid[2]
    centers, truth = sintel_correspondence(alley.flow[2], occluded, invalid, stride=8)
    grid = (436 // 8 + (436 % 8 > 4)) * (1024 // 8)
    assert 0.8 * grid < len(centers) < grid
    assert not occluded[truth[:, 0], truth[:, 1]].any() and not invalid[truth[:, 0], truth[:, 1]].any()
    assert (truth[:, 0] % 8 == 4).all() and (truth[:, 1] % 8 == 4).all()
    moved = _colour_error(frame_t, truth, frame_t1, centers)
    still = _colour_error(frame_t, truth, frame_t1, truth)
    backwards = _colour_error(frame_t, truth, frame_t1, np.clip(2 * truth - centers, 0, [435, 1023]))
    assert moved < 0.5 * still and moved < 0.5 * backwards, (moved, still, backwards)
    # with the occluded points kept, the error of the kept set can only grow
    c_all, t_all = sintel_correspondence(alley.flow[2], None, None, stride=8)
    assert len(c_all) > len(centers)
    assert _colour_error(frame_t, t_all, frame_t1, c_all) > moved


def test_hci_pairs_follow_the_disparity(hci_antinous):
    lf = read_hci(hci_antinous)
    c = lf.disparity_view
    assert c == (4, 4)
    centre, view = lf.views[c], lf.views[1, 1]
    centers, truth = disparity_correspondence(lf.disparity, (1, 1), c, HCI_DISPARITY_SIGN, stride=8)
    assert len(centers) > 0.5 * (512 // 8) ** 2
    warped = _colour_error(centre, centers, view, truth)
    same = _colour_error(centre, centers, view, centers)
    flipped = 2 * centers - truth  # the opposite sign of disparity
    keep = ((flipped >= 0) & (flipped < 512)).all(1)
    wrong_sign = _colour_error(centre, centers[keep], view, flipped[keep])
    assert warped < 0.6 * same and warped < 0.6 * wrong_sign, (warped, same, wrong_sign)
    # a looser forward-backward tolerance keeps more points and cannot lower the error
    c_loose, t_loose = disparity_correspondence(lf.disparity, (1, 1), c, HCI_DISPARITY_SIGN, stride=8, fb_tol=50)
    assert len(c_loose) >= len(centers)
    assert _colour_error(centre, c_loose, view, t_loose) >= warped - 0.05


def test_middlebury_pairs_follow_the_disparity(data_root):
    folder = data_root / "middlebury" / "cones"
    if not folder.is_dir():
        pytest.skip(f"Middlebury cones not found at {folder}")
    lf = read_middlebury(folder)
    left, right = lf.views[0, 0], lf.views[0, 1]
    centers, truth = stereo_correspondence(lf.disparity, stride=8)
    assert len(centers) > 0.7 * len(np.arange(4, 375, 8)) * len(np.arange(4, 450, 8))
    assert (truth[:, 0] == centers[:, 0]).all() and (truth[:, 1] <= centers[:, 1]).all()
    warped = _colour_error(left, centers, right, truth)
    same = _colour_error(left, centers, right, centers)
    assert warped < 0.5 * same, (warped, same)


def test_correspondence_map_places_each_truth_at_its_input_pixel():
    from refsr.correspondence import correspondence_map

    centers = np.array([[0, 0], [2, 3], [9, 9]])  # the last lies outside a 4x5 input
    truth = np.array([[7, 8], [1, 1], [0, 0]])
    field = correspondence_map(centers, truth, (4, 5))
    assert field.shape == (4, 5, 2) and field.dtype == np.int64
    assert field[0, 0].tolist() == [7, 8] and field[2, 3].tolist() == [1, 1]
    assert (field >= 0).all(2).sum() == 2 and (field[1, 1] == -1).all()
