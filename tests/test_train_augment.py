"""refsr.train.augment: symmetries and synthetic warps keep correspondences exact."""
from __future__ import annotations

import numpy as np
import pytest

from refsr.datasets import SR_BENCHMARKS, Pair
from refsr.io.images import read_image
from refsr.train.augment import rot90_pair, rot90_points, symmetric_pair, synthetic_pair


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rot90_points_follow_np_rot90(k):
    image = np.arange(5 * 7).reshape(5, 7)
    points = np.array([[0, 0], [4, 6], [2, 3], [1, 5]])
    moved = rot90_points(points, k, image.shape)
    rotated = np.rot90(image, k)
    assert (rotated[moved[:, 0], moved[:, 1]] == image[points[:, 0], points[:, 1]]).all()


def test_rot90_pair_keeps_correspondences(data_root):
    image = read_image(data_root / SR_BENCHMARKS / "Set5" / "bird.png")
    pair = Pair("t", image, image[:, ::-1].copy(), np.array([[10, 20], [100, 5]]),
                np.array([[10, 287 - 20], [100, 287 - 5]]))
    turned = rot90_pair(pair, 1)
    assert (turned.target[turned.centers[:, 0], turned.centers[:, 1]] ==
            turned.reference[turned.truth[:, 0], turned.truth[:, 1]]).all()


def test_symmetric_pair_gives_eight_symmetries_that_keep_correspondences():
    rng = np.random.default_rng(0)
    target, reference = rng.integers(0, 256, (5, 7, 3), np.uint8), rng.integers(0, 256, (6, 9, 3), np.uint8)
    centers, truth = np.array([[0, 0], [4, 6], [2, 3]]), np.array([[5, 8], [1, 2], [3, 3]])
    seen = set()
    for k in range(8):
        moved = symmetric_pair(Pair("t", target, reference, centers, truth), k)
        assert (moved.target[moved.centers[:, 0], moved.centers[:, 1]] == target[centers[:, 0], centers[:, 1]]).all()
        assert (moved.reference[moved.truth[:, 0], moved.truth[:, 1]] == reference[truth[:, 0], truth[:, 1]]).all()
        seen.add((moved.target.shape, moved.target.tobytes()))
    assert len(seen) == 8


def test_synthetic_pair_truth_is_where_the_content_went(data_root):
    image = read_image(data_root / SR_BENCHMARKS / "Set14" / "baboon.png")
    pair = synthetic_pair(image, np.random.default_rng(3), occluders=0)
    at_truth = np.abs(pair.target[pair.centers[:, 0], pair.centers[:, 1]].astype(float)
                      - pair.reference[pair.truth[:, 0], pair.truth[:, 1]].astype(float)).mean()
    in_place = np.abs(pair.target[pair.centers[:, 0], pair.centers[:, 1]].astype(float)
                      - pair.reference[pair.centers[:, 0], pair.centers[:, 1]].astype(float)).mean()
    assert len(pair.centers) > 1000 and at_truth < in_place / 2
