"""refsr.baselines: the flow-warp peer baseline, the oracle warp and back-projection, on real images."""
from __future__ import annotations

import numpy as np
import pytest

from refsr.datasets import SR_BENCHMARKS
from refsr.degrade import crop_to_multiple, degrade, upsample_image
from refsr.io.images import read_image
from refsr.io.sintel import read_clip
from refsr.methods import super_resolve
from refsr.metrics import psnr


@pytest.fixture(scope="module")
def butterfly(data_root):
    return crop_to_multiple(read_image(data_root / SR_BENCHMARKS / "Set5" / "butterfly.png"))


def test_output_is_exactly_8x(butterfly):
    lr = degrade(butterfly)[:13, :21]
    sr = super_resolve(lr, butterfly, "flow-warp", device="cpu")
    assert sr.shape == (13 * 8, 21 * 8, 3) and sr.dtype == np.uint8


def test_reference_equal_to_truth_reproduces_it(butterfly):
    lr = degrade(butterfly)
    sr = super_resolve(lr, butterfly, "flow-warp", device="cpu")
    bicubic = upsample_image(lr)
    assert psnr(sr, butterfly) > psnr(bicubic, butterfly) + 10


@pytest.mark.parametrize("method", ["flow-warp", "bicubic"])
def test_back_projection_degrades_to_the_input(butterfly, data_root, method):
    reference = crop_to_multiple(read_image(data_root / SR_BENCHMARKS / "Set5" / "bird.png"))[:256, :256]
    lr = degrade(butterfly)
    sr = super_resolve(lr, reference, method, device="cpu", back_project=10)
    assert np.abs(degrade(sr).astype(int) - lr.astype(int)).max() <= 1


def test_confidence_is_low_where_the_reference_is_occluded(sintel_root):
    # Input = frame t, reference = frame t+1: Sintel's occlusion mask of frame t marks exactly the
    # pixels whose content the reference does not show.
    clip = read_clip(sintel_root, "alley_1", "final", frames=[2, 3])
    hr = crop_to_multiple(clip.frames[0])
    occluded = clip.occlusions[2][: hr.shape[0], : hr.shape[1]]
    _, confidence = super_resolve(degrade(hr), clip.frames[1], "flow-warp", device="cpu", return_confidence=True)
    assert occluded.any()
    assert confidence[occluded].mean() < confidence[~occluded].mean()


def test_oracle_warp_of_an_exact_shift_recovers_the_truth(butterfly):
    import torch

    from refsr.baselines.oracle_warp import oracle_warp_super_resolve
    from refsr.correspondence import correspondence_map
    from refsr.tensors import to_image, to_tensor

    dy, dx = 5, -9  # reference(y + dy, x + dx) = truth(y, x)
    truth = butterfly[16:-16, 16:-16]
    reference = np.roll(butterfly, (dy, dx), axis=(0, 1))[16:-16, 16:-16]
    h, w = truth.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    centers = np.stack([ys.ravel(), xs.ravel()], 1)
    known = correspondence_map(centers, centers + [dy, dx], (h, w))
    known[(known[..., 0] >= h) | (known[..., 1] < 0)] = -1  # beyond the reference: unknown
    lr = degrade(truth)
    sr = to_image(oracle_warp_super_resolve(to_tensor(lr), to_tensor(reference), torch.as_tensor(known))[0])
    assert psnr(sr, truth) > psnr(upsample_image(lr), truth) + 10
