"""refsr.degrade against the degradation contract (docs/method.md "Degradation"), on synthetic images.

crop to a multiple of the scale (top-left anchored), uint8 -> float in [0, 1], antialiased bicubic
shrink (align_corners=False), clamp, round to uint8; up-samplers bicubic / bilinear, no antialias.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refsr.degrade import SCALE, crop_to_multiple, degrade, downsample, upsample, upsample_image
from refsr.errors import InputError


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _contract(hr: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """The contract written out with torch alone (no refsr helper)."""
    h, w = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    x = torch.from_numpy(np.ascontiguousarray(hr[:h, :w])).permute(2, 0, 1)[None].float() / 255
    y = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return torch.round(y.clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()


def test_scale_is_8():
    assert SCALE == 8


# ------------------------------------------------------------------ crop

@pytest.mark.parametrize("h, w", [(64, 64), (67, 90), (71, 79), (8, 15)])
def test_crop_to_multiple_is_top_left_anchored(h, w):
    hr = _image(h, w)
    out = crop_to_multiple(hr)
    assert out.shape == (h - h % 8, w - w % 8, 3)
    np.testing.assert_array_equal(out, hr[: out.shape[0], : out.shape[1]])


def test_crop_to_multiple_with_an_offset():
    hr = _image(70, 75)
    out = crop_to_multiple(hr, 8, (3, 5))
    assert out.shape == (64, 64, 3)  # (70 - 3) -> 64, (75 - 5) -> 64
    np.testing.assert_array_equal(out, hr[3:67, 5:69])


def test_crop_to_multiple_refuses_an_image_below_one_block():
    with pytest.raises(InputError):
        crop_to_multiple(_image(7, 64))
    with pytest.raises(InputError):
        crop_to_multiple(_image(64, 12), 8, (0, 5))  # 7 columns left after the offset


# ------------------------------------------------------------------ degrade

@pytest.mark.parametrize("h, w", [(64, 64), (67, 90), (100, 41)])
def test_degrade_shape_and_dtype(h, w):
    lr = degrade(_image(h, w))
    assert lr.shape == (h // 8, w // 8, 3) and lr.dtype == np.uint8


@pytest.mark.parametrize("h, w, scale", [(64, 96, 8), (67, 90, 8), (30, 44, 4)])
def test_degrade_follows_the_contract_exactly(h, w, scale):
    hr = _image(h, w, seed=h + w)
    np.testing.assert_array_equal(degrade(hr, scale), _contract(hr, scale))


def test_degrade_ignores_what_the_crop_drops():
    hr = _image(70, 77)
    other = hr.copy()
    other[64:] = 0
    other[:, 72:] = 255
    np.testing.assert_array_equal(degrade(hr), degrade(other))


def test_degrade_with_an_offset_degrades_the_shifted_image():
    hr = _image(80, 88)
    np.testing.assert_array_equal(degrade(hr, 8, (2, 7)), degrade(hr[2:, 7:]))


def test_degrade_keeps_a_constant_image():
    for value in (0, 17, 200, 255):
        lr = degrade(np.full((48, 56, 3), value, np.uint8))
        assert (lr == value).all()


def test_degrade_is_antialiased():
    # A 1-px checkerboard: an antialiased shrink averages it to mid grey; point sampling would alias to 0 or 255.
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, 2)
    lr = degrade(checker).astype(int)
    assert np.abs(lr - 127.5).max() <= 2


def test_degrade_rounds_to_the_nearest_level():
    # a block mean of 100.4 must round to 100, of 100.6 to 101 (not truncate)
    for frac, expected in ((0.4, 100), (0.6, 101)):
        hr = np.full((64, 64, 3), 100, np.uint8)
        rng = np.random.default_rng(0)
        hr.reshape(-1)[rng.choice(hr.size, int(frac * hr.size), replace=False)] = 101
        lr = degrade(hr)
        centre = lr[2:-2, 2:-2]  # away from the border, where the kernel sees only this image
        assert np.median(centre) == expected


def test_downsample_clamps_to_0_1():
    x = torch.zeros(1, 3, 32, 32)
    x[..., ::2, :] = 1.0  # sharp edges make bicubic overshoot before the clamp
    x[..., 16:, 16:] = 1.0
    y = downsample(x, 8)
    assert y.shape == (1, 3, 4, 4) and y.min() >= 0 and y.max() <= 1


# ------------------------------------------------------------------ upsampling

@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_upsample_shape(mode):
    lr = torch.rand(2, 3, 5, 7)
    assert upsample(lr, 8, mode).shape == (2, 3, 40, 56)
    assert upsample(lr, 4, mode).shape == (2, 3, 20, 28)


def test_upsample_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown upsampling mode"):
        upsample(torch.rand(1, 3, 4, 4), 8, "nearest")


def test_bilinear_uses_half_pixel_centres():
    # align_corners=False: output x samples input position (x + 0.5) / 8 - 0.5, clamped to the edge pixels
    lr = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2).contiguous()
    row = upsample(lr, 8, "bilinear")[0, 0, 0]
    expected = torch.tensor([min(max((x + 0.5) / 8 - 0.5, 0.0), 1.0) for x in range(16)])
    torch.testing.assert_close(row, expected)


def test_bilinear_stays_in_range_and_bicubic_overshoots_an_edge():
    lr = torch.zeros(1, 3, 4, 8)
    lr[..., 4:] = 1.0
    bilinear, bicubic = upsample(lr, 8, "bilinear"), upsample(lr, 8, "bicubic")
    assert bilinear.min() >= 0 and bilinear.max() <= 1
    assert bicubic.min() < 0 and bicubic.max() > 1  # not clamped by upsample itself


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_upsample_keeps_a_constant(mode):
    lr = torch.full((1, 3, 4, 6), 0.3)
    torch.testing.assert_close(upsample(lr, 8, mode), torch.full((1, 3, 32, 48), 0.3))


def test_upsample_image_is_uint8_and_x8():
    lr = _image(6, 9)
    out = upsample_image(lr)
    assert out.shape == (48, 72, 3) and out.dtype == np.uint8
    out_bl = upsample_image(lr, mode="bilinear")
    # bilinear never leaves the range of its four neighbours: the output's range is within the input's
    assert out_bl.min() >= lr.min() and out_bl.max() <= lr.max()
