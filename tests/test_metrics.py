"""refsr.metrics on synthetic images: PSNR closed forms, BT.601 luma, SSIM bounds, matching accuracy."""
from __future__ import annotations

import math

import numpy as np
import pytest

from refsr.metrics import BORDER, luminance, matching_accuracy, psnr, psnr_y, ssim


def _image(h: int = 48, w: int = 40, seed: int = 0, lo: int = 0, hi: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(lo, hi, size=(h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------ PSNR on RGB

def test_psnr_of_identical_images_is_inf():
    hr = _image()
    assert psnr(hr, hr.copy()) == math.inf
    assert psnr(hr, hr.copy(), border=0) == math.inf


@pytest.mark.parametrize("offset", [1, 3, 10])
def test_psnr_of_a_constant_offset_is_the_closed_form(offset):
    hr = _image(lo=20, hi=236)  # no clipping at either end
    sr = (hr.astype(np.int16) + offset).astype(np.uint8)
    assert psnr(sr, hr) == pytest.approx(20 * math.log10(255 / offset), abs=1e-9)
    assert psnr(hr, sr) == pytest.approx(psnr(sr, hr), abs=1e-12)  # symmetric


def test_psnr_does_not_wrap_around_in_uint8():
    black, white = np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 255, np.uint8)
    assert psnr(black, white) == pytest.approx(0.0, abs=1e-12)  # 0 - 255 is -255, not 1
    assert psnr(white, black) == pytest.approx(0.0, abs=1e-12)


def test_psnr_leaves_the_border_out():
    hr = _image()
    sr = hr.copy()
    sr[:BORDER] = 255 - sr[:BORDER]  # change only the top border rows ...
    sr[:, -BORDER:] = 0              # ... and the right border columns
    assert psnr(sr, hr) == math.inf  # default border = 8
    assert math.isfinite(psnr(sr, hr, border=0))
    inner = hr.copy()
    inner[BORDER, BORDER] ^= 0xFF  # one pixel just inside the border counts
    assert math.isfinite(psnr(inner, hr))


def test_psnr_mse_is_over_pixels_and_channels():
    hr = np.full((24, 24, 3), 100, np.uint8)
    sr = hr.copy()
    sr[..., 1] += 6  # one channel of three off by 6: MSE = 36 / 3 = 12
    assert psnr(sr, hr, border=0) == pytest.approx(10 * math.log10(255**2 / 12), abs=1e-9)


@pytest.mark.parametrize("metric", [psnr, psnr_y, ssim])
def test_shape_mismatch_is_refused(metric):
    with pytest.raises(ValueError, match="shapes differ"):
        metric(_image(48, 40), _image(48, 48))


# ------------------------------------------------------------------ BT.601 luminance and PSNR-Y

def test_luminance_is_bt601_in_16_235():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    y = luminance(rgb)
    assert y.dtype == np.float64 and y.shape == (1, 5)
    np.testing.assert_allclose(y[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)


def test_luminance_is_linear_in_rgb():
    a, b = _image(seed=1, hi=128), _image(seed=2, hi=128)
    np.testing.assert_allclose(luminance(a + b) - 16, (luminance(a) - 16) + (luminance(b) - 16), atol=1e-9)


def test_psnr_y_of_identical_images_is_inf():
    hr = _image()
    assert psnr_y(hr, hr.copy()) == math.inf


@pytest.mark.parametrize("channel, weight", [(0, 65.481), (1, 128.553), (2, 24.966)])
def test_psnr_y_weights_each_channel_by_bt601(channel, weight):
    hr = _image(lo=20, hi=236)
    sr = hr.copy()
    sr[..., channel] += 10  # Y moves by 10 * weight / 255 everywhere
    assert psnr_y(sr, hr) == pytest.approx(20 * math.log10(255 / (10 * weight / 255)), abs=1e-9)


def test_psnr_y_of_a_grey_offset():
    hr = _image(lo=20, hi=236)
    sr = hr + np.uint8(5)
    # a grey offset d moves Y by d * 219 / 255 (the [16, 235] range)
    assert psnr_y(sr, hr) == pytest.approx(20 * math.log10(255 / (5 * 219 / 255)), abs=1e-9)


def test_psnr_y_ignores_a_colour_change_that_keeps_luma():
    hr = np.full((32, 32, 3), 128, np.uint8)
    sr = hr.copy()
    # R + 8 and B - 21 nearly cancel in Y (65.481 * 8 ~ 24.966 * 21), not in RGB
    sr[..., 0] += 8   # Y + 8 * 65.481 / 255 = 2.0543
    sr[..., 2] -= 21  # Y - 21 * 24.966 / 255 = 2.0560: Y moves by 0.0017
    assert psnr_y(sr, hr) > 90 > psnr(sr, hr)


# ------------------------------------------------------------------ SSIM

def test_ssim_of_identical_images_is_one():
    hr = _image()
    assert ssim(hr, hr.copy()) == pytest.approx(1.0, abs=1e-12)


def test_ssim_is_in_0_1_and_falls_with_noise():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:64]
    hr = np.stack([(yy * 3) % 256, (xx * 4) % 256, ((yy + xx) * 2) % 256], -1).astype(np.uint8)
    scores = []
    for sigma in (2, 10, 40):
        noisy = np.clip(hr + rng.normal(0, sigma, hr.shape), 0, 255).astype(np.uint8)
        s = ssim(noisy, hr)
        assert 0.0 <= s < 1.0
        scores.append(s)
    assert scores[0] > scores[1] > scores[2]


def test_ssim_is_symmetric_and_uses_the_border():
    a, b = _image(seed=4), _image(seed=5)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)
    c = a.copy()
    c[:BORDER] = 0
    assert ssim(c, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(c, a, border=0) < 1.0


# ------------------------------------------------------------------ matching accuracy

def test_matching_accuracy_on_hand_made_matches():
    truth = np.array([[10, 10], [20, 20], [30, 30], [40, 40], [50, 50], [60, 60]])
    errors = np.array([[0, 0], [0, 1], [1, 1], [2, 0], [3, 4], [0, 7]])  # Euclidean 0, 1, 1.41, 2, 5, 7
    acc = matching_accuracy(truth + errors, truth)
    assert list(acc) == [0, 1, 2, 4, 5, 6]
    expected = {0: 1, 1: 2, 2: 4, 4: 4, 5: 5, 6: 5}  # points within t px (Euclidean, inclusive)
    for t, n in expected.items():
        assert acc[t] == pytest.approx(100 * n / 6)


def test_matching_accuracy_excludes_invalid_points():
    truth = np.zeros((4, 2))
    matches = np.array([[0, 0], [0, 0], [9, 9], [9, 9]])
    acc = matching_accuracy(matches, truth, valid=np.array([True, True, False, False]), thresholds=(0, 1))
    assert acc == {0: 100.0, 1: 100.0}
    acc = matching_accuracy(matches, truth, valid=np.array([True, False, True, False]), thresholds=(0,))
    assert acc == {0: 50.0}


def test_matching_accuracy_without_valid_points_is_nan():
    acc = matching_accuracy(np.zeros((3, 2)), np.zeros((3, 2)), valid=np.zeros(3, bool), thresholds=(0, 2))
    assert list(acc) == [0, 2] and all(math.isnan(v) for v in acc.values())


def test_matching_accuracy_takes_float_matches():
    truth = np.array([[5, 5], [5, 5]])
    matches = np.array([[5.0, 5.99], [5.0, 6.01]])  # 0.99 and 1.01 px away
    assert matching_accuracy(matches, truth, thresholds=(0, 1)) == {0: 0.0, 1: 50.0}
