"""Patch synthesis (refsr.synthesis): fusion, exact x8 sizes, banding, and quality on real data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refsr import shipped
from refsr.archs.ccnet import CCNet
from refsr.archs.srresnet import SRResNet
from refsr.archs.ssnet import HR_CHANNELS, SSNet
from refsr.backproject import back_project
from refsr.degrade import crop_to_multiple, degrade
from refsr.methods import METHODS, refsr_models, super_resolve
from refsr.metrics import psnr
from refsr.patches import fold_band, gather, patch_grid, patch_origins
from refsr.synthesis import (QUANTIZATION_VARIANCE, RefSRModels, agreement, fusion_weights, match_centers,
                             refsr_super_resolve)
from refsr.tensors import to_image, to_tensor

SHIPPED = ("ccnet", "srresnet", "srresnet_nn", "ssnet")
needs_weights = pytest.mark.skipif(not all(shipped.available(n) for n in SHIPPED),
                                   reason="shipped weights missing (refsr/weights/*.pt)")


def _smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    """uint8 (h, w, 3) random but spatially smooth (matching has something to find)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g)
    x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    return (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _random_nets(seed: int = 0) -> RefSRModels:
    """Untrained networks whose SS-Net output is not just bicubic (its last conv is zero-initialised).

    CC-Net's last bias is zeroed: an untrained network's unit features are otherwise nearly parallel,
    and matching would pick among ties at rounding level.
    """
    torch.manual_seed(seed)
    nets = RefSRModels(CCNet().eval(), SRResNet("nn").eval(), SSNet().eval())
    with torch.no_grad():
        nets.ccnet.net[-1].bias.zero_()
        nets.ssnet.to_rgb.weight.normal_(0, 0.05)
        nets.ssnet.to_rgb.bias.normal_(0, 0.05)
    return nets


# ---------------------------------------------------------------- fusion


def _fold(patches: torch.Tensor, weights: torch.Tensor, cols: int) -> torch.Tensor:
    return fold_band(patches * weights, cols, 8) / fold_band(weights, cols, 8)


def test_fusion_of_constant_patches_is_that_constant() -> None:
    rows, cols = 3, 5
    patches = torch.full((rows * cols, 3, 64, 64), 0.37)
    for weights in (torch.ones(rows * cols, 1, 64, 64), torch.rand(rows * cols, 1, 64, 64) + 0.1):
        out = _fold(patches, weights, cols)
        assert out.shape == (3, 64 + 16 * (rows - 1), 64 + 16 * (cols - 1))
        torch.testing.assert_close(out, torch.full_like(out, 0.37))


def test_mask_fusion_with_equal_masks_is_plain_averaging() -> None:
    rows, cols = 3, 4
    patches = torch.rand(rows * cols, 3, 64, 64)
    mask = torch.full((rows * cols, HR_CHANNELS[0], 64, 64), 0.73)
    w_mask = fusion_weights(mask, "mask")
    torch.testing.assert_close(w_mask, torch.full_like(w_mask, 0.73))  # Gaussian of a constant, replicate border
    torch.testing.assert_close(_fold(patches, w_mask, cols), _fold(patches, fusion_weights(mask, "average"), cols))


class _ConstantMaskSSNet(SSNet):
    """SS-Net whose mask is replaced by one constant: mask fusion must then equal average fusion."""

    def forward(self, f_lr, ref, bicubic):
        sr, mask, mismatch = super().forward(f_lr, ref, bicubic)
        return sr, torch.full_like(mask, 0.4), mismatch


@torch.no_grad()
def test_refsr_mask_fusion_equals_average_when_masks_are_equal() -> None:
    nets = _random_nets()
    const = _ConstantMaskSSNet().eval()
    const.load_state_dict(nets.ssnet.state_dict())
    nets.ssnet = const
    lr = torch.rand(1, 3, 13, 17)
    ref = torch.rand(1, 3, 120, 150)
    mask, mask_confidence = refsr_super_resolve(lr, ref, nets, fusion="mask", search=8, weigh_agreement=False)
    avg, avg_confidence = refsr_super_resolve(lr, ref, nets, fusion="average", search=8)
    torch.testing.assert_close(mask, avg)
    # the confidence is the fusion weight sum (conventions.md): patches covering a pixel x their weight
    assert mask_confidence.shape == avg_confidence.shape == (13 * 8, 17 * 8)
    torch.testing.assert_close(mask_confidence, 0.4 * avg_confidence, atol=0, rtol=2e-3)  # 0.4 in bf16
    assert avg_confidence.min() == 1 and avg_confidence.max() == 16  # 64x64 footprints 16 px apart


class _TwoPatchKinds(torch.nn.Module):
    """Stands in for SS-Net: patches alternately predict 0.2 in perfect agreement and 0.8 in poor agreement."""

    def forward(self, f_lr, ref, bicubic):
        n = len(ref)
        good = torch.arange(n) % 2 == 0
        sr = torch.where(good[:, None, None, None], 0.2, 0.8).expand(n, 3, 64, 64)
        return sr, torch.ones(n, HR_CHANNELS[0], 64, 64), torch.where(good, 0.0, 1e-2)[:, None, None, None].expand(
            n, 1, 64, 64)


def _fully_trusted(sr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A stand-in SS-Net's outputs for predictions `sr` (N, 3, 64, 64): masks all ones, no lowpass mismatch."""
    n = len(sr)
    return sr, torch.ones(n, HR_CHANNELS[0], 64, 64), torch.zeros(n, 1, 64, 64)


class _Equivariant(torch.nn.Module):
    """Stands in for SS-Net with only mirror- and transpose-symmetric operations: reference and LR features mixed."""

    def forward(self, f_lr, ref, bicubic):
        return _fully_trusted(0.5 * ref + 0.5 * F.interpolate(f_lr[:, :3], scale_factor=8, mode="nearest"))


class _SeesRampRising(torch.nn.Module):
    """Stands in for SS-Net: 1 where its reference patch rises to the right as it sees it, 0 where it falls."""

    def forward(self, f_lr, ref, bicubic):
        rising = ((ref[..., -1] - ref[..., 0]).mean((1, 2)) > 0).float()
        return _fully_trusted(rising[:, None, None, None].expand(len(ref), 3, 64, 64))


@torch.no_grad()
def test_patch_orientations_change_nothing_for_a_symmetric_network() -> None:
    """Each patch and its LR features are turned alike and its output turned back: a network without a preferred
    orientation (here a pointwise SRResNet body and an SS-Net copying its inputs) gives the same picture."""
    nets = _random_nets(seed=9)
    nets.srresnet_nn.body, nets.ssnet = torch.nn.Conv2d(3, 64, 1), _Equivariant()
    lr, ref = torch.rand(1, 3, 14, 19), torch.rand(1, 3, 120, 160)
    plain, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", orientations=1)
    for count in (2, 8):
        turned, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", orientations=count)
        torch.testing.assert_close(turned, plain, atol=1e-6, rtol=0)


class _CopiesFeatures(torch.nn.Module):
    """Stands in for SS-Net: its LR features (the first three channels), upsampled."""

    def forward(self, f_lr, ref, bicubic):
        return _fully_trusted(F.interpolate(f_lr[:, :3], scale_factor=8, mode="nearest"))


@torch.no_grad()
def test_a_mirrored_patch_sees_the_lr_features_of_the_mirrored_input() -> None:
    """With a body that is not mirror-symmetric, the two turns see different features; an inner pixel, covered
    by as many patches of each, gets the mean of both."""
    nets = _random_nets(seed=11)
    nets.srresnet_nn.body, nets.ssnet = torch.nn.Conv2d(3, 64, (1, 3), padding=(0, 1)), _CopiesFeatures()
    lr, ref = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 128, 128)
    body = nets.srresnet_nn.body
    both = (body(lr) + body(lr.flip(-1)).flip(-1))[:, :3] / 2
    turned, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", orientations=2)
    want = F.interpolate(both, scale_factor=8, mode="nearest")
    torch.testing.assert_close(turned[..., 48:-48, 48:-48], want.clamp(0, 1)[..., 48:-48, 48:-48])
    assert (body(lr) - body(lr.flip(-1)).flip(-1)).abs().max() > 0.05  # the two turns do differ


@torch.no_grad()
def test_patch_orientations_take_turns_over_each_pixel() -> None:
    """A reference rising to the right: every patch sees it rise with one orientation; with the mirror taking
    turns, half the patches covering an inner pixel see it fall."""
    nets = _random_nets(seed=10)
    nets.ssnet = _SeesRampRising()
    lr = torch.rand(1, 3, 16, 16)
    ref = torch.linspace(0, 1, 128).expand(1, 3, 128, 128).contiguous()
    plain, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", orientations=1)
    assert torch.all(plain == 1)
    for count in (2, 4):  # mirrors only: rising or falling
        turned, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", orientations=count)
        torch.testing.assert_close(turned[..., 48:-48, 48:-48], torch.full_like(turned[..., 48:-48, 48:-48], 0.5))


def test_agreement_falls_with_the_mismatch_down_to_quantisation_noise() -> None:
    levels = torch.tensor([0.0, QUANTIZATION_VARIANCE, 1e-4, 1e-2])
    weights = agreement(levels[:, None, None, None].expand(4, 1, 64, 64))
    assert weights.shape == (4, 1, 64, 64)
    torch.testing.assert_close(weights[0], torch.full((1, 64, 64), QUANTIZATION_VARIANCE**-0.5))
    assert bool((weights[:, 0, 32, 32].diff() < 0).all())


def test_agreement_is_local() -> None:
    mismatch = torch.zeros(1, 1, 64, 64)
    mismatch[..., :, 40:] = 1e-2  # the right part of the patch disagrees
    weights = agreement(mismatch)[0, 0, 32]
    assert weights[:16].min() > 10 * weights[48:].max()


@torch.no_grad()
def test_mask_fusion_leans_on_the_patches_that_agree_with_the_input() -> None:
    nets = _random_nets()
    nets.ssnet = _TwoPatchKinds()
    lr, ref = torch.rand(1, 3, 13, 17), torch.rand(1, 3, 120, 150)
    weighed, confidence = refsr_super_resolve(lr, ref, nets, fusion="mask", search=8)
    plain, plain_confidence = refsr_super_resolve(lr, ref, nets, fusion="mask", search=8, weigh_agreement=False)
    assert 0.45 < float(plain.mean()) < 0.55  # half the patches of each kind
    assert float(weighed.mean()) < 0.25  # the agreeing patches dominate wherever they reach
    torch.testing.assert_close(confidence, plain_confidence)  # the confidence stays the mask weight sum


def test_gather_crops_patches_at_their_origins() -> None:
    image = torch.arange(2 * 20 * 22, dtype=torch.float32).reshape(2, 20, 22)
    rows, cols = patch_grid(20, 22)
    tops = patch_origins(range(rows), cols)
    crops = gather(image, tops, 8)
    assert crops.shape == (rows * cols, 2, 8, 8)
    y, x = tops[-1].tolist()
    assert torch.equal(crops[-1], image[:, y : y + 8, x : x + 8])


# ---------------------------------------------------------------- sizes and banding


@needs_weights
@pytest.mark.parametrize("method", list(METHODS))
def test_output_is_exactly_8x_for_odd_lr_sizes(method: str) -> None:
    lr = _smooth_image(13, 21, seed=1)
    ref = _smooth_image(13 * 8 + 5, 21 * 8 - 3, seed=2)
    search = {"search": 16} if "search" in METHODS[method].options else {}
    sr = super_resolve(lr, ref, method, device="cpu", **search)
    assert sr.shape == (104, 168, 3) and sr.dtype == np.uint8


@torch.no_grad()
@pytest.mark.parametrize("ref_size", [(110, 90), (40, 24)], ids=["larger-reference", "smaller-reference"])
def test_tiled_synthesis_equals_one_tile(ref_size: tuple[int, int]) -> None:
    nets = _random_nets(seed=3)
    lr = torch.from_numpy(_smooth_image(13, 11, seed=4)).permute(2, 0, 1)[None].float() / 255
    ref = torch.from_numpy(_smooth_image(*ref_size, seed=5)).permute(2, 0, 1)[None].float() / 255
    whole, w_whole = refsr_super_resolve(lr, ref, nets, fusion="mask", search=6, memory_budget=1e12, precision="fp32")
    # a budget of 1 byte: one patch per matching tile, and batches that straddle nothing
    banded, w_banded = refsr_super_resolve(lr, ref, nets, fusion="mask", search=6, memory_budget=1, batch=3,
                                           precision="fp32")
    assert whole.shape == (1, 3, 104, 88)
    torch.testing.assert_close(banded, whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w_banded, w_whole, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- quality on a validation pair


def _require_shipped_weights() -> None:
    if not all(shipped.available(n) for n in METHODS["refsr"].weights):
        pytest.skip("shipped weights missing (refsr/weights/*.pt)")


def _refsr_psnr(lr: np.ndarray, reference: np.ndarray, truth: np.ndarray, models: RefSRModels | None = None,
                **options) -> float:
    """PSNR (dB) of `refsr_super_resolve` with `models` (default: the shipped ones) and `options`, back-projected as
    the refsr method is."""
    lr_t = to_tensor(lr)
    sr, _ = refsr_super_resolve(lr_t, to_tensor(reference), models or refsr_models("cpu"), **options)
    return psnr(to_image(back_project(sr, lr_t, METHODS["refsr"].back_project)[0]), truth)


@pytest.fixture(scope="module")
def lf_scores(hci_antinous: Path) -> dict:
    """PSNR (dB) of the shipped methods on the light-field validation pair (3,3) from (0,0), and RefSR's confidence."""
    _require_shipped_weights()
    from refsr.datasets import LF_QUALITY_PAIR, lightfield_pair_name, lightfield_pairs

    pair = next(p for p in lightfield_pairs(hci_antinous, True, with_truth=False)
                if p.name == lightfield_pair_name(*LF_QUALITY_PAIR))
    truth, lr = crop_to_multiple(pair.target), degrade(pair.target)
    scores = {m: psnr(super_resolve(lr, pair.reference, m, device="cpu"), truth)
              for m in ("bicubic", "srresnet-nn", "flow-warp")}
    grey = np.full_like(pair.reference, 128)
    for name, reference in (("refsr", pair.reference), ("refsr-grey-reference", grey)):
        sr, confidence = super_resolve(lr, reference, "refsr", device="cpu", return_confidence=True)
        scores[name], scores[f"{name}-confidence"] = psnr(sr, truth), float(confidence.mean())
    for precision in ("fp32", "bf16"):
        scores[f"refsr-{precision}"] = psnr(super_resolve(lr, pair.reference, "refsr", device="cpu",
                                                          precision=precision), truth)
    models = RefSRModels(shipped.load("ccnet"), shipped.load("srresnet_nn"), shipped.load("ssnet").without_alignment())
    scores["refsr-offset-off"] = _refsr_psnr(lr, pair.reference, truth, models)
    scores["refsr-whole-pixel"] = _refsr_psnr(lr, pair.reference, truth, subpixel=False)
    return scores


# Thresholds: what the shipped weights measured (bench/results/quality_cpu.md) less a margin.

def test_shipped_refsr_beats_bicubic_by_6_5db(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] - lf_scores["bicubic"] >= 6.5, lf_scores


def test_shipped_refsr_uses_its_reference(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] - lf_scores["refsr-grey-reference"] >= 4.5, lf_scores


def test_shipped_refsr_confidence_falls_without_a_reference(lf_scores: dict) -> None:
    """SS-Net's masks weigh a grey reference down: the fusion weight sum falls (bench/results/design_notes.md)."""
    assert lf_scores["refsr-confidence"] >= 2 * lf_scores["refsr-grey-reference-confidence"] > 0, lf_scores


def test_shipped_refsr_beats_flow_warp_on_the_light_field(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] >= lf_scores["flow-warp"] + 0.5, lf_scores


def test_learned_alignment_pays_on_the_light_field(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] - lf_scores["refsr-offset-off"] >= 0.8, lf_scores


def test_subpixel_refinement_pays_on_the_light_field(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] - lf_scores["refsr-whole-pixel"] >= 0.25, lf_scores


def test_shipped_refsr_beats_srresnet_nn(lf_scores: dict[str, float]) -> None:
    assert lf_scores["refsr"] > lf_scores["srresnet-nn"], lf_scores


def test_bf16_moves_refsr_psnr_by_at_most_005_db(lf_scores: dict[str, float]) -> None:
    assert abs(lf_scores["refsr-bf16"] - lf_scores["refsr-fp32"]) <= 0.05, lf_scores


@pytest.fixture(scope="module")
def stereo_scores(data_root: Path) -> dict[str, float]:
    """PSNR (dB) on the stereo validation pair (Middlebury 2006, a scene never trained on)."""
    _require_shipped_weights()
    from refsr.datasets import middlebury2006_pairs

    pair = middlebury2006_pairs(data_root / "middlebury2006", validation=True, with_truth=False)[0]
    truth, lr = crop_to_multiple(pair.target), degrade(pair.target)
    scores = {m: psnr(super_resolve(lr, pair.reference, m, device="cpu"), truth) for m in ("refsr", "flow-warp")}
    scores["refsr-grey-reference"] = psnr(super_resolve(lr, np.full_like(pair.reference, 128), "refsr", device="cpu"),
                                          truth)
    scores["refsr-ensemble"] = psnr(super_resolve(lr, pair.reference, "refsr", device="cpu", ensemble=True), truth)
    scores["refsr-unweighed"] = _refsr_psnr(lr, pair.reference, truth, weigh_agreement=False)
    return scores


def test_shipped_refsr_beats_flow_warp_by_1db_on_an_unseen_stereo_scene(stereo_scores: dict[str, float]) -> None:
    assert stereo_scores["refsr"] >= stereo_scores["flow-warp"] + 1.0, stereo_scores


def test_shipped_refsr_uses_its_reference_on_an_unseen_stereo_scene(stereo_scores: dict[str, float]) -> None:
    assert stereo_scores["refsr"] - stereo_scores["refsr-grey-reference"] >= 2.5, stereo_scores


def test_the_agreement_weight_pays_on_an_unseen_stereo_scene(stereo_scores: dict[str, float]) -> None:
    assert stereo_scores["refsr"] - stereo_scores["refsr-unweighed"] >= 0.25, stereo_scores


def test_the_flip_ensemble_pays_on_an_unseen_stereo_scene(stereo_scores: dict[str, float]) -> None:
    assert stereo_scores["refsr-ensemble"] >= stereo_scores["refsr"] + 0.05, stereo_scores


@pytest.fixture(scope="module")
def sintel_scores(sintel_root: Path) -> dict[str, float]:
    """PSNR (dB) on Sintel final alley_1 frame 3 from 2 (a validation clip, the one where RefSR trailed flow-warp
    before the alignment check and the agreement weight)."""
    _require_shipped_weights()
    from refsr.io.sintel import read_clip

    clip = read_clip(sintel_root, "alley_1", "final", frames=[2, 3])
    index = {n: i for i, n in enumerate(clip.numbers)}
    target, reference = clip.frames[index[3]], clip.frames[index[2]]
    truth, lr = crop_to_multiple(target), degrade(target)
    scores = {m: psnr(super_resolve(lr, reference, m, device="cpu"), truth) for m in ("refsr", "flow-warp")}
    m = refsr_models("cpu")
    unchecked = RefSRModels(m.ccnet, m.srresnet_nn, m.ssnet.without_alignment_check())
    scores["refsr-unchecked"] = _refsr_psnr(lr, reference, truth, unchecked)
    scores["refsr-one-orientation"] = _refsr_psnr(lr, reference, truth, orientations=1)
    return scores


def test_shipped_refsr_beats_flow_warp_on_a_sintel_validation_clip(sintel_scores: dict[str, float]) -> None:
    assert sintel_scores["refsr"] >= sintel_scores["flow-warp"] + 0.4, sintel_scores


def test_alignment_check_pays_on_sintel(sintel_scores: dict[str, float]) -> None:
    assert sintel_scores["refsr"] - sintel_scores["refsr-unchecked"] >= 0.35, sintel_scores


def test_patch_orientations_pay_on_sintel(sintel_scores: dict[str, float]) -> None:
    assert sintel_scores["refsr"] - sintel_scores["refsr-one-orientation"] >= 0.2, sintel_scores


def test_precision_choice() -> None:
    from refsr.precision import use_bf16

    cpu = torch.device("cpu")
    assert use_bf16("bf16", cpu) and not use_bf16("fp32", cpu)
    with pytest.raises(ValueError, match="precision"):
        use_bf16("fp16", cpu)


def test_tile_shape_keeps_the_reference_crop_within_budget() -> None:
    from refsr.synthesis import FEATURE_BYTES, tile_shape

    assert tile_shape(24, 61, (436, 1024), 100, 1e12) == (24, 61)  # a Sintel frame: one tile
    assert tile_shape(24, 61, (436, 1024), 100, 1) == (1, 1)
    r, c = tile_shape(184, 247, (3000, 4000), 100, 1.5e9)  # 4000x3000 output
    assert 1 < r < 184 and 1 < c < 247
    assert (r * 16 + 328) * (c * 16 + 328) * FEATURE_BYTES <= 1.5e9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@needs_weights
def test_cpu_and_cuda_agree(hci_antinous: Path) -> None:
    """Same shipped networks and input on both devices in fp32: the pictures agree to >= 40 dB PSNR."""
    from refsr.io.lightfield import read_hci

    lf = read_hci(hci_antinous)
    target, ref = lf.views[(3, 3)][:256, :256], lf.views[(0, 0)][:256, :256]
    lr = degrade(target)
    cpu = super_resolve(lr, ref, "refsr", device="cpu", precision="fp32")
    cuda = super_resolve(lr, ref, "refsr", device="cuda", precision="fp32")
    assert psnr(cuda, cpu) >= 40.0


@torch.no_grad()
def test_known_matches_replace_ccnet_matches_where_given() -> None:
    nets = _random_nets(seed=6)
    lr = torch.from_numpy(_smooth_image(12, 12, seed=7)).permute(2, 0, 1)[None].float() / 255
    ref = torch.from_numpy(_smooth_image(96, 96, seed=8)).permute(2, 0, 1)[None].float() / 255
    plain, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32")
    unknown = torch.full((96, 96, 2), -1, dtype=torch.long)
    same, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", known_matches=unknown)
    assert torch.equal(same, plain)  # nothing known: CC-Net's matches
    corner = torch.zeros((96, 96, 2), dtype=torch.long)  # every centre matched to the reference's corner
    moved, _ = refsr_super_resolve(lr, ref, nets, search=8, precision="fp32", known_matches=corner)
    assert (moved - plain).abs().max() > 1e-3


@torch.no_grad()
def test_match_centers_searches_around_the_reference_origin() -> None:
    """A reference crop that starts `m` px before the input: a pure shift is found at centre + (m, m)."""
    nets = _random_nets(seed=3)
    torch.manual_seed(4)
    image = F.interpolate(torch.rand(1, 3, 80, 80), scale_factor=2, mode="nearest")
    m = 12
    ref = F.pad(image, (m, m, m, m), mode="replicate")
    ys, xs = torch.meshgrid(torch.arange(48, 113, 8), torch.arange(48, 113, 8), indexing="ij")
    centers = torch.stack([ys, xs], -1).reshape(-1, 2)
    found = match_centers(nets.ccnet, image, ref, centers, search=8, ref_origin=(m, m))
    assert torch.equal(found, centers + m)
    plain = match_centers(nets.ccnet, image, ref, centers, search=8)
    assert (plain - centers).abs().max() <= 8 and not torch.equal(plain, centers + m)  # without it, out of reach
