"""The `refsr` method: CC-Net matches drive SS-Net patch synthesis, fused over overlapping patches.

Work shared by overlapping patches is done once: SRResNet-NN features on the whole LR image,
CC-Net features once per tile of patches (tiles bound the memory on large images), SS-Net in
batches, each patch row folded into the output as soon as it is made.
"""
from __future__ import annotations

from dataclasses import dataclass

import kornia
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from refsr.archs.ccnet import RECEPTIVE_FIELD, CCNet
from refsr.archs.srresnet import SRResNet
from refsr.archs.ssnet import SSNet
from refsr.degrade import SCALE, upsample
from refsr.errors import InputError
from refsr.matching.search import SEARCH
from refsr.matching.subpixel import degradation_blur, refine_matches
from refsr.matching.vote import VOTE_SPACING, vote_window_search
from refsr.orientations import ORIENTATIONS, orient, orient_each, patch_orientations, unorient
from refsr.precision import autocast, use_bf16
from refsr.timing import NoTimer, StageTimer
from refsr.patches import (HR_PATCH, PATCH, STRIDE, fold_band, gather, padded_lr_size, patch_centers, patch_grid,
                           patch_origins, reference_patches)

HALF_RF = RECEPTIVE_FIELD // 2
FUSIONS = ("mask", "average")  # how overlapping patches are fused (`fusion_weights`)
QUANTIZATION_VARIANCE = 1 / (255**2 * 12)  # of 8-bit pixels: the floor of any patch's lowpass mismatch


@dataclass
class RefSRModels:
    ccnet: CCNet
    srresnet_nn: SRResNet
    ssnet: SSNet

    def __post_init__(self):
        for net in (self.ccnet, self.srresnet_nn, self.ssnet):  # convolutions run fastest channels_last
            net.to(memory_format=torch.channels_last)


def fusion_weights(mask: torch.Tensor, fusion: str) -> torch.Tensor:
    """Per-pixel weights of each patch: ones (`average`) or the channel-mean scale-0 mask smoothed by G(sigma=3)."""
    if fusion == "average":
        return torch.ones_like(mask[:, :1])
    if fusion == "mask":
        return kornia.filters.gaussian_blur2d(mask.mean(1, keepdim=True), (19, 19), (3.0, 3.0), border_type="replicate")
    raise ValueError(f"unknown fusion {fusion!r} ({' | '.join(FUSIONS)})")


def agreement(mismatch: torch.Tensor) -> torch.Tensor:
    """How far each patch's prediction is trusted per pixel in mask fusion: 1 / RMS of its reference's lowpass
    mismatch with the input (SS-Net's third output) over about one LR pixel (Gaussian, sigma SCALE px),
    floored at 8-bit quantisation noise.

    Args:
        mismatch: (N, 1, S, S) `refsr.archs.ssnet.lowpass_mismatch`.

    Returns:
        (N, 1, S, S).
    """
    local = kornia.filters.gaussian_blur2d(mismatch, (4 * SCALE + 1,) * 2, (SCALE, SCALE), border_type="replicate")
    return (local + QUANTIZATION_VARIANCE).rsqrt()


def _span(lo: int, hi: int, margin: int, size: int) -> tuple[int, int]:
    return max(lo - margin, 0), min(hi + margin, size)


def match_centers(ccnet: CCNet, lr_up: torch.Tensor, ref: torch.Tensor, centers: torch.Tensor, search: int,
                  timer: StageTimer | NoTimer = NoTimer(), bf16: bool = False,
                  ref_origin: tuple[int, int] = (0, 0), vote_spacing: int = VOTE_SPACING) -> torch.Tensor:
    """CC-Net matches (P, 2) of HR centres of the upsampled input, computing features only where they are needed.

    The input crop has a HALF_RF margin around the centres and their voting neighbours, the reference
    crop search + HALF_RF around theirs, so every feature used is exactly the whole-image one. Features
    come out channels_last, the layout the search reads without a copy. Each centre searches around
    itself + `ref_origin` in the reference (a reference crop starting `ref_origin` before the input's),
    by the vote of its neighbours `vote_spacing` px away (`refsr.matching.vote`; 0: the centre alone).
    """
    (H, W), (ref_h, ref_w) = lr_up.shape[-2:], ref.shape[-2:]
    (iy0, ix0), (iy1, ix1) = centers.min(0).values.tolist(), (centers.max(0).values + 1).tolist()
    margin = HALF_RF + vote_spacing
    (iy0, iy1), (ix0, ix1) = _span(iy0, iy1, margin, H), _span(ix0, ix1, margin, W)
    around = centers + torch.tensor(ref_origin, device=centers.device)  # where each centre searches in the reference
    (cy0, cx0), (cy1, cx1) = around.min(0).values.tolist(), (around.max(0).values + 1).tolist()
    # A reference smaller than the input: centres beyond it search around the nearest reference pixel.
    (qy0, qx0), (qy1, qx1) = (min(cy0, ref_h - 1), min(cx0, ref_w - 1)), (min(cy1, ref_h), min(cx1, ref_w))
    (ry0, ry1), (rx0, rx1) = _span(qy0, qy1, search + margin, ref_h), _span(qx0, qx1, search + margin, ref_w)
    with timer("ccnet_features"), autocast(lr_up.device, bf16):
        f_in = ccnet(lr_up[..., iy0:iy1, ix0:ix1].contiguous(memory_format=torch.channels_last))[0]
        g = ccnet(ref[..., ry0:ry1, rx0:rx1].contiguous(memory_format=torch.channels_last))[0]
    with timer("matching"):
        in_origin = torch.tensor([iy0, ix0], device=centers.device)
        origin = torch.tensor([ry0, rx0], device=centers.device)
        # Bigger bins on a GPU: fewer, larger matrix products (the per-bin Python cost dominates there).
        return vote_window_search(f_in, centers - in_origin, g, around - origin, search, vote_spacing,
                                  tile=256 if g.is_cuda else 64) + origin


# Peak bytes per pixel of a CC-Net feature crop: the float32 features, plus the bf16 copy (or the
# 128-channel layer before them) alive while they are made.
FEATURE_BYTES = 256 * 6


def tile_shape(rows: int, cols: int, ref_shape: tuple[int, ...], search: int, budget_bytes: float) -> tuple[int, int]:
    """Patch rows x columns per matching tile, as square as fits, so the reference CC-Net crop stays within budget."""
    step, margin = STRIDE * SCALE, 2 * (search + HALF_RF) + HR_PATCH

    def crop_bytes(r: int, c: int) -> float:
        return min(r * step + margin, ref_shape[-2]) * min(c * step + margin, ref_shape[-1]) * FEATURE_BYTES

    n = 1
    while n < max(rows, cols) and crop_bytes(min(n + 1, rows), min(n + 1, cols)) <= budget_bytes:
        n += 1
    r, c = min(n, rows), min(n, cols)
    while r < rows and crop_bytes(r + 1, c) <= budget_bytes:  # a wide image: spend what is left on rows
        r += 1
    while c < cols and crop_bytes(r, c + 1) <= budget_bytes:
        c += 1
    return r, c


@torch.no_grad()
def refsr_super_resolve(
    lr: torch.Tensor, ref: torch.Tensor, models: RefSRModels, fusion: str = "mask", search: int = SEARCH,
    batch: int | None = None, memory_budget: float = 1.5e9, progress: bool = False,
    timer: StageTimer | NoTimer = NoTimer(), precision: str = "auto", known_matches: torch.Tensor | None = None,
    vote_spacing: int = VOTE_SPACING, subpixel: bool = True, weigh_agreement: bool = True,
    orientations: int = ORIENTATIONS[-1],
) -> tuple[torch.Tensor, torch.Tensor]:
    """float LR (1, 3, h, w) + HR reference (1, 3, H', W') -> (SR (1, 3, 8h, 8w), fusion weight sum (8h, 8w)).

    The fusion weight sum is that of `fusion_weights` alone; `weigh_agreement` further weighs each
    patch in mask fusion by its `agreement` with the input.

    `batch`: SS-Net patches per call (default 32 on CPU, where small batches stay in cache, 256 on GPU);
    `precision`: 'auto' | 'fp32' | 'bf16' for the networks (refsr.precision);
    `known_matches`: (8h, 8w, 2) long reference pixel of each input pixel, -1 where unknown; a patch
    centre that has one takes it instead of CC-Net's match, refined alike (the benchmark's oracle rows);
    `vote_spacing`: px between a patch centre and the neighbours that vote on its match (0: no vote);
    `subpixel`: refine each match to 1/8 px by agreement with the LR input (`refsr.matching.subpixel`);
    `orientations`: how many symmetries of the square neighbouring patches take turns in (`refsr.orientations`).
    """
    h, w = lr.shape[-2:]
    if h < PATCH or w < PATCH:
        raise InputError("<input>", f"LR image of {w}x{h} is smaller than one {PATCH}x{PATCH} patch")
    bf16 = use_bf16(precision, lr.device)
    weigh = weigh_agreement and fusion == "mask"
    batch = batch or (256 if lr.is_cuda else 32)
    hp, wp = padded_lr_size(h, w)
    lr_pad = F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate")
    with timer("lr_features"):
        with autocast(lr.device, bf16):  # the features of the input seen in each orientation, turned back
            f_lr = torch.stack([unorient(models.srresnet_nn.body(
                orient(lr_pad, k).contiguous(memory_format=torch.channels_last))[0].float(), k)
                for k in range(orientations)])
        bicubic = upsample(lr_pad, SCALE, "bicubic")[0]
        lr_up = upsample(lr_pad, SCALE, "bilinear")
    if subpixel:
        with timer("matching"):
            blurred_ref = degradation_blur(ref)
    rows, cols = patch_grid(hp, wp)
    if known_matches is not None:
        known_matches = F.pad(known_matches.permute(2, 0, 1), (0, (wp - w) * SCALE, 0, (hp - h) * SCALE),
                              value=-1).permute(1, 2, 0)
    out = torch.zeros(5, hp * SCALE, wp * SCALE, device=lr.device)  # weighted RGB sum, weight sum, fusion weight sum
    # The voting neighbours widen the reference crop like a wider search; the input crop's features
    # stay alive beside it for the vote and are never larger, so each gets half the budget.
    tile_rows, tile_cols = tile_shape(rows, cols, ref.shape, search + vote_spacing, memory_budget / 2)
    bar = tqdm(total=rows * cols, desc="refsr", unit="patch", disable=not progress, leave=False)
    for r0 in range(0, rows, tile_rows):
        band = range(r0, min(rows, r0 + tile_rows))
        tops = patch_origins(band, cols, lr.device).reshape(len(band), cols, 2)
        centers = patch_centers(tops)
        matches = torch.cat([match_centers(models.ccnet, lr_up, ref, centers[:, c0 : c0 + tile_cols].reshape(-1, 2),
                                           search, timer, bf16, vote_spacing=vote_spacing).reshape(len(band), -1, 2)
                             for c0 in range(0, cols, tile_cols)], dim=1)
        if known_matches is not None:
            known = known_matches[centers[..., 0], centers[..., 1]]
            matches = torch.where(known[..., :1] >= 0, known, matches)
        if subpixel:
            with timer("matching"):
                matches = refine_matches(lr_pad, blurred_ref, tops.reshape(-1, 2), matches.reshape(-1, 2)).reshape(
                    matches.shape)
        for r, row_tops, row_matches in zip(band, tops, matches):  # fold each patch row as soon as it is made
            parts = []
            row_orientations = patch_orientations(torch.full((cols,), r, device=lr.device),
                                                  torch.arange(cols, device=lr.device), orientations)
            for i in range(0, cols, batch):
                t, ks = row_tops[i : i + batch], row_orientations[i : i + batch]
                with timer("patch_gathering"):
                    features = f_lr.new_empty(len(t), f_lr.shape[1], PATCH, PATCH)
                    for k in ks.unique().tolist():
                        features[ks == k] = gather(f_lr[k], t[ks == k], PATCH)
                    inputs = (orient_each(features, ks),
                              orient_each(reference_patches(ref[0], row_matches[i : i + batch], HR_PATCH), ks),
                              orient_each(gather(bicubic, t * SCALE, HR_PATCH), ks))
                with timer("ssnet"), autocast(lr.device, bf16):
                    sr, mask, mismatch = (orient_each(x.float(), ks, inverse=True) for x in models.ssnet(*inputs))
                with timer("fusion"):
                    wgt = fusion_weights(mask, fusion)
                    share = wgt * agreement(mismatch) if weigh else wgt
                    parts.append(torch.cat([sr * share, share, wgt], 1))
            with timer("fusion"):
                row_out = fold_band(torch.cat(parts), cols, SCALE)
                y0 = r * STRIDE * SCALE
                out[:, y0 : y0 + row_out.shape[1]] += row_out
            bar.update(cols)
    bar.close()
    out = out[:, : h * SCALE, : w * SCALE]
    sr = out[:3] / out[3:4].clamp_min(1e-8)
    return sr[None].clamp(0, 1), out[4]
