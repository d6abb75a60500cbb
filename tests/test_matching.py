"""refsr.matching (the package's entry points): the default centres, the blurred reference, unknown methods."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refsr.degrade import downsample, upsample
from refsr.matching import MATCHERS, blur_reference, grid_centers, match_tensors


def test_grid_centres_sit_mid_block_inside_the_image() -> None:
    c = grid_centers(20, 35, stride=8)
    assert c.shape == (2 * 4, 2) and c.dtype.kind == "i"
    assert c[0].tolist() == [4, 4] and c[-1].tolist() == [12, 28]
    assert (c[:, 0] < 20).all() and (c[:, 1] < 35).all()
    assert np.array_equal(np.unique(np.diff(np.unique(c[:, 1]))), [8])


def test_blur_reference_keeps_the_size_and_matches_the_input_degradation() -> None:
    torch.manual_seed(0)
    ref = torch.rand(1, 3, 37, 50)
    blurry = blur_reference(ref)
    assert blurry.shape == ref.shape
    inside = upsample(downsample(ref[..., :32, :48]), mode="bilinear")
    assert torch.equal(blurry[..., :32, :48], inside)
    assert torch.equal(blurry[..., 32:, :48], inside[..., -1:, :].expand(-1, -1, 5, -1))  # replicated edge
    assert blurry.std() < ref.std()  # x8 detail is gone


def test_unknown_method_names_the_choices() -> None:
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="unknown matching method 'sift'; choose from " + ", ".join(MATCHERS)):
        match_tensors(x, x, torch.zeros(1, 2, dtype=torch.long), "sift")
