"""refsr.tensors: uint8 HxWx3 <-> float32 NCHW in [0, 1], exact round trip, clamped and rounded on the way back."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refsr.tensors import to_image, to_tensor


def test_to_tensor_layout_and_scale():
    image = np.zeros((4, 5, 3), np.uint8)
    image[1, 2] = (255, 51, 0)
    t = to_tensor(image)
    assert t.shape == (1, 3, 4, 5) and t.dtype == torch.float32
    assert t[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.2, 0.0])
    assert t.sum() == pytest.approx(1.2)


def test_to_tensor_of_a_batch():
    batch = np.random.default_rng(0).integers(0, 256, size=(2, 6, 7, 3), dtype=np.uint8)
    t = to_tensor(batch)
    assert t.shape == (2, 3, 6, 7)
    assert torch.equal(t[1], to_tensor(batch[1])[0])


def test_to_tensor_takes_non_contiguous_views_and_leaves_the_input_alone():
    image = np.random.default_rng(1).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    kept = image.copy()
    flipped = image[::-1, ::2]
    assert torch.equal(to_tensor(flipped), to_tensor(flipped.copy()))
    to_tensor(image).mul_(0)
    np.testing.assert_array_equal(image, kept)


def test_round_trip_is_exact_for_every_level():
    levels = np.arange(256, dtype=np.uint8)
    image = np.stack([levels, levels[::-1], np.roll(levels, 7)], -1).reshape(16, 16, 3)
    np.testing.assert_array_equal(to_image(to_tensor(image)[0]), image)
    np.testing.assert_array_equal(to_image(to_tensor(image)), image[None])  # (N, 3, H, W) stays batched


def test_to_image_squeezes_only_a_3d_input():
    t = torch.rand(3, 4, 5)
    assert to_image(t).shape == (4, 5, 3)
    assert to_image(t[None]).shape == (1, 4, 5, 3)


def test_to_image_clamps_and_rounds():
    t = torch.tensor([-0.5, 0.0, 0.3 / 255, 0.7 / 255, 100.4 / 255, 1.0, 1.7]).view(1, 1, 7).expand(3, 1, 7)
    out = to_image(t)
    assert out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 0, 0, 1, 100, 255, 255]


def test_to_image_detaches():
    t = torch.rand(3, 2, 2, requires_grad=True)
    assert to_image(t * 1).shape == (2, 2, 3)
