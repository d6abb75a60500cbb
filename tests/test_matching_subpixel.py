"""refsr.matching.subpixel: the degradation blur and sub-pixel refinement, on a real image shifted by known amounts."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.datasets import SR_BENCHMARKS
from refsr.degrade import SCALE, crop_to_multiple, downsample
from refsr.io.images import read_image
from refsr.matching.subpixel import STEPS, degradation_blur, refine_matches
from refsr.patches import patch_centers, patch_grid, patch_origins
from refsr.tensors import to_tensor

SHIFT = (0.375, -0.625)  # HR px the reference is moved by: no whole-pixel match is exact


@pytest.fixture(scope="module")
def butterfly(data_root) -> torch.Tensor:
    return to_tensor(crop_to_multiple(read_image(data_root / SR_BENCHMARKS / "Set5" / "butterfly.png")), "cpu")


def shifted(image: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """image sampled at each pixel + (dy, dx), bicubic: pixel q of the image is at q - (dy, dx) in the result."""
    n, _, h, w = image.shape
    ys, xs = torch.arange(h) + dy, torch.arange(w) + dx
    grid = torch.stack(torch.meshgrid((2 * ys + 1) / h - 1, (2 * xs + 1) / w - 1, indexing="ij")[::-1], -1)
    return F.grid_sample(image, grid[None].float(), mode="bicubic", padding_mode="border", align_corners=False)


def test_blur_sampled_between_footprints_is_the_degradation(butterfly):
    blurred = degradation_blur(butterfly)
    low = downsample(butterfly)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # the edges are replicated, not renormalised
    sampled = blurred[..., SCALE // 2 - 1 :: SCALE, SCALE // 2 - 1 :: SCALE].clamp(0, 1)
    torch.testing.assert_close(sampled[inner], low[inner], atol=1e-5, rtol=0)


def test_refinement_finds_the_sub_pixel_shift(butterfly):
    reference = shifted(butterfly, *SHIFT)
    lr = downsample(butterfly)
    rows, cols = patch_grid(*lr.shape[-2:])
    tops = patch_origins(range(rows), cols)
    truth = patch_centers(tops).float() - torch.tensor(SHIFT)
    whole = truth.round().long()
    refined = refine_matches(lr, degradation_blur(reference), tops, whole)
    before, after = (truth - whole).abs().amax(1), (truth - refined).abs().amax(1)
    assert refined.dtype == torch.float32
    assert (refined - whole).abs().max() <= sum(STEPS)
    assert after.median() <= STEPS[-1] / 2  # to the finest step
    assert (after < before).float().mean() > 0.9


def test_refinement_ignores_a_brightness_change(butterfly):
    lr = downsample(butterfly)
    tops = patch_origins(range(0, patch_grid(*lr.shape[-2:])[0], 5), 10)
    whole = patch_centers(tops) + 1
    blurred = degradation_blur(shifted(butterfly, *SHIFT))
    torch.testing.assert_close(refine_matches(lr, blurred + 0.1, tops, whole), refine_matches(lr, blurred, tops, whole))


def test_bad_shapes_are_refused(butterfly):
    lr = downsample(butterfly)
    with pytest.raises(ValueError, match="tops and matches"):
        refine_matches(lr, degradation_blur(butterfly), torch.zeros(3, 2, dtype=torch.long), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="ref must be"):
        degradation_blur(butterfly[0])
