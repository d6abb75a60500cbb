"""Hand-crafted matchers (ZNCC, dense SIFT, Chang et al. gradients) on known integer shifts of real images.

Why two kinds of shift (measured, see the report of this module): after the x8 degradation a shift
that is not a multiple of 8, such as (5, -9), changes the LR sampling phase, so the upsampled input
is NOT a shifted copy of the (blurred) reference; no hand-crafted matcher recovers such a shift to
the exact pixel (exact rates 0-30 % on Sintel/Set14 crops, errors snap towards the LR grid). So:
- exactness of feature alignment is tested with (5, -9) where the input is the shifted HR itself
  (sharp matchers) or with the LR-aligned shift (8, -16) through the full degradation (blurry
  matchers, whose input and reference then differ by an exact shift): >= 97 % exact, 0 offset bias;
- the full pipeline with (5, -9) is tested for an unbiased, roughly right answer.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.feature import match_template

from refsr.degrade import degrade
from refsr.io.images import read_image
from refsr.matching import grid_centers, match, match_tensors
from refsr.matching.handcrafted import dsift_features, gradient_features, zncc_features
from refsr.matching.search import l2_as_dot, window_search
from refsr.tensors import to_tensor

H, W = 160, 224
Y0, X0 = 136, 400  # 8-aligned crop of alley_1 with texture at the LR scale
MARGIN = 24
SHARP = ("zncc", "dsift")
BLURRY = ("zncc-blurry", "dsift-blurry", "gradient")


@pytest.fixture(scope="module")
def frame(sintel_root) -> np.ndarray:
    return read_image(sintel_root / "clean" / "alley_1" / "frame_0002.png")


def _pair(frame: np.ndarray, shift: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(input, reference) crops with input(q) = reference(q - shift)."""
    dy, dx = shift
    ref = frame[Y0:Y0 + H, X0:X0 + W]
    inp = frame[Y0 - dy:Y0 - dy + H, X0 - dx:X0 - dx + W]
    return inp, ref


def _interior(centers: np.ndarray) -> np.ndarray:
    return (centers >= MARGIN).all(1) & (centers[:, 0] < H - MARGIN) & (centers[:, 1] < W - MARGIN)


def _lr(hr: np.ndarray) -> np.ndarray:
    lr = degrade(hr)
    return lr.reshape(lr.shape[-3:])


def _shift_errors(frame: np.ndarray, method: str, shift: tuple[int, int]) -> np.ndarray:
    """Match error (y, x) of the interior centres for an input that is the reference shifted by `shift`."""
    inp, ref = _pair(frame, shift)
    centers, found = match(_lr(inp), ref, method, stride=8, search=16, device="cpu")
    keep = _interior(centers)
    return found[keep] - (centers[keep] - np.array(shift))


def test_feature_shapes_and_zncc_norm(frame):
    img = to_tensor(frame[:64, :96])
    for fn, channels in ((zncc_features, 289), (dsift_features, 128), (gradient_features, 324)):
        feat = fn(img)
        assert feat.shape == (channels, 64, 96), fn.__name__
        assert feat.dtype == torch.float32 and torch.isfinite(feat).all()
    norms = zncc_features(img).norm(dim=0)
    assert torch.allclose(norms[norms > 0.5], torch.ones(()), atol=1e-5)
    flat = zncc_features(torch.full((1, 3, 32, 32), 0.5))
    assert torch.isfinite(flat).all() and flat.abs().max() == 0  # flat patch: no NaN, correlation 0


@pytest.mark.parametrize("method", SHARP)
def test_sharp_matchers_recover_shift_exactly(frame, method):
    inp, ref = _pair(frame, (5, -9))
    c = torch.as_tensor(grid_centers(H, W, 8))
    found = match_tensors(to_tensor(inp), to_tensor(ref), c, method, search=16).numpy()
    keep = _interior(c.numpy())
    exact = (found[keep] == c.numpy()[keep] - np.array([5, -9])).all(1)
    assert exact.mean() >= 0.99, f"{method}: {exact.mean():.3f} exact"


@pytest.mark.parametrize("method", BLURRY)
def test_blurry_matchers_recover_lr_aligned_shift_exactly(frame, method):
    err = _shift_errors(frame, method, (8, -16))
    # >= 97 %: the odd miss is a near-flat patch whose score ties within float rounding
    assert (err == 0).all(1).mean() >= 0.97, f"{method}: {(err == 0).all(1).mean():.3f} exact"
    assert np.abs(np.median(err, 0)).max() == 0


# Measured on this crop (share within 0/2/6 px): zncc .01/.21/.53, dsift .03/.37/.76, zncc-blurry
# .13/.87/.97, dsift-blurry .26/.98/1.0, gradient .00/.32/.94 (its second derivatives lock onto the
# kinks of the bilinear upsampling, so its matches snap to the LR grid: median error (-2, -1)).
@pytest.mark.parametrize("method", SHARP + BLURRY)
def test_full_pipeline_recovers_unaligned_shift_roughly(frame, method):
    err = _shift_errors(frame, method, (5, -9))
    within = np.abs(err).max(1)
    assert np.abs(np.median(err, 0)).max() <= 2, f"{method}: median error {np.median(err, 0)}"
    assert (within <= 6).mean() >= 0.5, f"{method}: {(within <= 6).mean():.2f} within 6 px"
    if method in ("zncc-blurry", "dsift-blurry"):
        assert (within <= 2).mean() >= 0.8, f"{method}: {(within <= 2).mean():.2f} within 2 px"


def test_zncc_features_agree_with_skimage_match_template(frame):
    grey_rgb = frame[:80, :96]
    img = to_tensor(grey_rgb)
    feat = zncc_features(img, size=17)
    grey = (0.299 * img[0, 0] + 0.587 * img[0, 1] + 0.114 * img[0, 2]).numpy().astype(np.float64)
    rng = np.random.default_rng(0)
    for _ in range(6):
        py, px = rng.integers(8, 80 - 8), rng.integers(8, 96 - 8)
        template = grey[py - 8:py + 9, px - 8:px + 9]
        expected = match_template(grey, template, pad_input=True)  # ZNCC at every pixel
        got = torch.einsum("c,chw->hw", feat[:, py, px], feat).numpy()
        inner = (slice(8, 80 - 8), slice(8, 96 - 8))
        textured = grey[inner].std() > 0
        assert textured
        assert np.abs(got[inner] - expected[inner]).max() < 1e-4


def test_l2_as_dot_window_search_equals_brute_force_l2():
    gen = torch.Generator().manual_seed(0)
    c, h, w, search = 12, 40, 50, 6
    ref = torch.randn(c, h, w, generator=gen)
    centers = torch.stack([torch.randint(0, h, (60,), generator=gen), torch.randint(0, w, (60,), generator=gen)], 1)
    query = torch.randn(60, c, generator=gen)
    q, g = l2_as_dot(query, ref)
    found = window_search(q, g, centers, search, tile=16)
    for i, (cy, cx) in enumerate(centers.tolist()):
        y0, y1, x0, x1 = max(cy - search, 0), min(cy + search + 1, h), max(cx - search, 0), min(cx + search + 1, w)
        dist = ((ref[:, y0:y1, x0:x1] - query[i][:, None, None]) ** 2).sum(0)
        k = int(dist.argmin())
        assert found[i].tolist() == [y0 + k // (x1 - x0), x0 + k % (x1 - x0)]
