"""CC-Net (docs/method.md "CC-Net"): architecture properties, the ccnet matcher, and the shipped weights.

Architecture tests use a randomly initialised CCNet in eval mode (no weights needed). Matcher tests
use the shipped weights (`refsr/weights/ccnet.pt`) and are skipped when they are absent.

The matcher tests hold the shipped weights to what they were measured to do, with a margin, on
validation data never trained on: the measurements behind each threshold are in
bench/results/design_notes.md ("Tests calibrated on measurements") and bench/results/matching_cpu.md.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refsr.archs.ccnet import RECEPTIVE_FIELD, CCNet
from refsr.degrade import degrade
from refsr.io.images import read_image, write_image
from refsr.metrics import matching_accuracy
from refsr.shipped import available

needs_weights = pytest.mark.skipif(not available("ccnet"), reason="no shipped CC-Net weights (refsr/weights/ccnet.pt)")

H, W = 160, 224
Y0, X0 = 136, 400  # 8-aligned crop of alley_1 with texture at the LR scale (as in test_matching_handcrafted)
MARGIN = 40  # > half the receptive field (32): features there never see the zero padding


def _random_net(seed: int = 0) -> CCNet:
    torch.manual_seed(seed)
    net = CCNet().eval()
    # non-trivial BN statistics, so that eval-mode BN is not the identity
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net


def _lr(hr: np.ndarray) -> np.ndarray:
    lr = degrade(hr)
    return lr.reshape(lr.shape[-3:])


@pytest.fixture(scope="module")
def frame(sintel_root) -> np.ndarray:
    return read_image(sintel_root / "clean" / "alley_1" / "frame_0002.png")


# ------------------------------------------------------------------ architecture (random weights)

def test_output_shape_and_256_channels():
    net = _random_net()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 37, 50))
    assert out.shape == (2, 256, 37, 50)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@needs_weights
def test_ccnet_features_shape_and_device():
    from refsr.matching.ccnet import ccnet_features

    image = torch.rand(1, 3, 40, 56)
    feat = ccnet_features(image, precision="fp32")
    assert feat.shape == (256, 40, 56) and feat.dtype == torch.float32
    assert feat.permute(1, 2, 0).is_contiguous()  # pixel-major, what window_search reads without a copy
    assert not feat.requires_grad
    from refsr.shipped import load

    with torch.no_grad():
        eager = load("ccnet", "cpu")(image.contiguous())[0]
    assert torch.allclose(feat, eager, atol=1e-5)  # channels_last changes the speed, not the result
    bf16 = ccnet_features(image, precision="bf16")
    assert bf16.dtype == torch.float32 and (bf16 - eager).norm() < 0.02 * eager.norm()
    with pytest.raises(ValueError):
        ccnet_features(torch.rand(3, 40, 56))


def test_receptive_field_is_65():
    assert RECEPTIVE_FIELD == 65
    net = _random_net()
    size, centre, half = 129, 64, RECEPTIVE_FIELD // 2
    x = torch.rand(1, 3, size, size, requires_grad=True)
    net(x)[0, :, centre, centre].sum().backward()
    grad = x.grad[0].abs().sum(0)
    inside = torch.zeros_like(grad, dtype=torch.bool)
    inside[centre - half:centre + half + 1, centre - half:centre + half + 1] = True
    assert grad[~inside].max() == 0  # nothing outside the 65x65 window reaches the centre
    # ... and the window is tight: every one of its four edges is reached
    edges = {"top": grad[centre - half], "bottom": grad[centre + half],
             "left": grad[:, centre - half], "right": grad[:, centre + half]}
    for name, line in edges.items():
        assert line.max() > 0, f"{name} edge of the 65x65 window has zero gradient"


def test_translation_equivariance_8px():
    net = _random_net().double()
    gen = torch.Generator().manual_seed(1)
    big = torch.rand(1, 3, 104, 120, generator=gen, dtype=torch.float64)
    h, w, dy, dx = 96, 104, 8, 8  # b is a shifted by (8, 8): b(y, x) = a(y + 8, x + 8)
    a, b = big[..., :h, :w], big[..., dy:dy + h, dx:dx + w]
    with torch.no_grad():
        fa, fb = net(a)[0], net(b)[0]
    half = RECEPTIVE_FIELD // 2
    # away from the zero-padded borders of both images
    inner_b = fb[:, half:h - half - dy, half:w - half - dx]
    inner_a = fa[:, half + dy:h - half, half + dx:w - half]
    assert inner_b.shape[1] > 8 and inner_b.shape[2] > 8
    assert torch.allclose(inner_b, inner_a, rtol=1e-9, atol=1e-9)
    # near the border the padding breaks it (the test above is not vacuous)
    assert not torch.allclose(fb[:, :4, :4], fa[:, dy:dy + 4, dx:dx + 4], atol=1e-6)


# ------------------------------------------------------------------ the ccnet matcher (shipped weights)

@needs_weights
def test_ccnet_matcher_follows_an_lr_aligned_shift(frame):
    """An 8-aligned shift keeps the LR sampling phase, so the degraded input is an exact shift of the
    degraded reference (test_matching_handcrafted explains why unaligned shifts cannot be exact).

    The bound is on within-1-px, not exact, matches: CC-Net compares the blurred input with the
    sharp reference, so its peaks are a pixel wide. Measured rates: bench/results/design_notes.md.
    """
    from refsr.matching import match

    shift = np.array([8, -16])
    ref = frame[Y0:Y0 + H, X0:X0 + W]
    inp = frame[Y0 - shift[0]:Y0 - shift[0] + H, X0 - shift[1]:X0 - shift[1] + W]
    centers, found = match(_lr(inp), ref, "ccnet", stride=8, search=16, device="cpu")
    keep = (centers >= MARGIN).all(1) & (centers[:, 0] < H - MARGIN) & (centers[:, 1] < W - MARGIN)
    err = found[keep] - (centers[keep] - shift)
    within1 = (np.abs(err) <= 1).all(1).mean()
    assert within1 >= 0.85, f"ccnet: {within1:.3f} within 1 px, median error {np.median(err, 0)}"
    assert (np.abs(np.median(err, 0)) <= 1).all()


@needs_weights
def test_ccnet_is_the_vote_and_ccnet_centre_the_centre_alone(frame):
    from refsr.degrade import upsample
    from refsr.matching import grid_centers, match_tensors
    from refsr.matching.ccnet import ccnet_features
    from refsr.matching.search import window_search
    from refsr.matching.vote import vote_window_search
    from refsr.tensors import to_tensor

    ref = to_tensor(frame[Y0:Y0 + H, X0:X0 + W])
    lr_up = upsample(to_tensor(_lr(frame[Y0 - 5:Y0 - 5 + H, X0 + 3:X0 + 3 + W])), 8, "bilinear")
    centers = torch.as_tensor(grid_centers(H, W, 8))
    f, g = ccnet_features(lr_up), ccnet_features(ref)
    voted = match_tensors(lr_up, ref, centers, "ccnet", search=16)
    alone = match_tensors(lr_up, ref, centers, "ccnet-centre", search=16)
    assert torch.equal(voted, vote_window_search(f, centers, g, centers, 16))
    assert torch.equal(alone, window_search(f[:, centers[:, 0], centers[:, 1]].T.contiguous(), g, centers, 16))
    assert not torch.equal(voted, alone)


@needs_weights
def test_shipped_weights_beat_the_blurry_matchers_on_an_unseen_clip(sintel_root):
    """Sintel final cave_2 3<-2 (a validation clip), the whole frame, search 100 as in Table 2.

    Thresholds: the measured rates (bench/results/design_notes.md) less a margin.
    """
    from refsr.datasets import VALIDATION_CLIPS
    from refsr.io.sintel import read_clip
    from refsr.matching import match
    from refsr.correspondence import sintel_correspondence

    assert "cave_2" in VALIDATION_CLIPS  # never trained on
    clip = read_clip(sintel_root, "cave_2", "final", frames=[2, 3])
    if 2 not in clip.flow or 2 not in clip.occlusions or 2 not in clip.invalid:
        pytest.skip("cave_2 flow/masks of frame 2 absent")
    index = {n: i for i, n in enumerate(clip.numbers)}
    target, reference = clip.frames[index[3]], clip.frames[index[2]]
    h = target.shape[0] - target.shape[0] % 8
    centers, truth = sintel_correspondence(clip.flow[2], clip.occlusions[2], clip.invalid[2], stride=8,
                                           input_shape=(h, target.shape[1]))
    assert len(centers) > 6000
    lr = _lr(target)
    acc = {}
    for method in ("ccnet", "zncc-blurry"):
        _, found = match(lr, reference, method, search=100, device="cpu", centers=centers)
        acc[method] = matching_accuracy(found, truth, thresholds=(0, 1))
    assert acc["ccnet"][1] >= 42 and acc["ccnet"][1] >= acc["zncc-blurry"][1] + 25, f"<=1 px: {acc}"


@needs_weights
def test_cli_match_ccnet_writes_centers_and_matches(frame, tmp_path):
    from refsr.cli import main

    lr_path, ref_path, out = tmp_path / "lr.png", tmp_path / "ref.png", tmp_path / "out.npz"
    write_image(lr_path, _lr(frame[Y0:Y0 + 96, X0:X0 + 128]))
    write_image(ref_path, frame[Y0:Y0 + 96, X0 + 8:X0 + 8 + 128])
    rc = main(["match", str(lr_path), str(ref_path), str(out), "--method", "ccnet",
               "--stride", "8", "--search", "16", "--device", "cpu"])
    assert rc == 0
    saved = np.load(out)
    assert saved["centers"].shape == saved["matches"].shape == (12 * 16, 2)
    assert saved["centers"].dtype.kind == saved["matches"].dtype.kind == "f"
    matches = saved["matches"]
    assert (matches >= 0).all() and (matches[:, 0] < 96).all() and (matches[:, 1] < 128).all()
    assert (np.abs(matches - saved["centers"]) <= 16).all()  # inside the search window
