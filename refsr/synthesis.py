"""The `refsr` method: CC-Net matches drive SS-Net patch synthesis, fused over overlapping patches.

Work shared by overlapping patches is done once: SRResNet-NN features on the whole LR image,
CC-Net features once per band of patch rows (bands bound the memory on large images).
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
from refsr.matching.search import window_search
from refsr.timing import NoTimer, StageTimer
from refsr.patches import PATCH, STRIDE, fold_band, gather, padded_lr_size, patch_grid, patch_origins

HALF_RF = RECEPTIVE_FIELD // 2


@dataclass
class RefSRModels:
    ccnet: CCNet
    srresnet_nn: SRResNet
    ssnet: SSNet


def patch_centers(tops: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """HR centre (y, x) of the 64x64 footprint of each LR patch top-left corner."""
    return tops * scale + PATCH * scale // 2


def reference_patches(ref: torch.Tensor, matches: torch.Tensor, size: int) -> torch.Tensor:
    """(P, 3, size, size) reference crops centred on `matches` (P, 2); ref (3, H, W), replicate-padded."""
    half = size // 2
    padded = F.pad(ref[None], (half, half, half, half), mode="replicate")[0]
    return gather(padded, matches, size)  # match - half + half


def fusion_weights(mask: torch.Tensor, fusion: str) -> torch.Tensor:
    """Per-pixel weights of each patch: ones (`average`) or the channel-mean scale-0 mask smoothed by G(sigma=3)."""
    if fusion == "average":
        return torch.ones_like(mask[:, :1])
    if fusion == "mask":
        return kornia.filters.gaussian_blur2d(mask.mean(1, keepdim=True), (19, 19), (3.0, 3.0), border_type="replicate")
    raise ValueError(f"unknown fusion {fusion!r} (mask | average)")


def match_centers(ccnet: CCNet, lr_up: torch.Tensor, ref: torch.Tensor, centers: torch.Tensor, search: int,
                  timer: StageTimer | NoTimer = NoTimer()) -> torch.Tensor:
    """CC-Net matches (P, 2) of HR centres of the upsampled input, computing features only on the rows they need."""
    H, ref_h = lr_up.shape[-2], ref.shape[-2]
    cy0, cy1 = int(centers[:, 0].min()), int(centers[:, 0].max()) + 1
    iy0, iy1 = max(cy0 - HALF_RF, 0), min(cy1 + HALF_RF, H)
    ry0, ry1 = max(cy0 - search - HALF_RF, 0), min(cy1 + search + HALF_RF, ref_h)
    with timer("ccnet_features"):
        f_in = ccnet(lr_up[..., iy0:iy1, :])[0]
        query = f_in[:, centers[:, 0] - iy0, centers[:, 1]].T.contiguous()
        del f_in
        g = ccnet(ref[..., ry0:ry1, :])[0]
    with timer("matching"):
        local = centers.clone()
        local[:, 0] -= ry0
        # Bigger bins on a GPU: fewer, larger matrix products (the per-bin Python cost dominates there).
        matches = window_search(query, g, local, search, tile=256 if g.is_cuda else 64)
        matches[:, 0] += ry0
    return matches


def _band_rows(rows: int, cols: int, width_hr: int, search: int, budget_bytes: float) -> int:
    """Patch rows per band so the reference CC-Net slab (256 ch, float32) stays within budget."""
    step = STRIDE * SCALE
    slab_rows_fixed = 2 * (search + HALF_RF) + PATCH * SCALE
    per_row = 256 * 4 * width_hr * step
    fits = int((budget_bytes - 256 * 4 * width_hr * slab_rows_fixed) // per_row)
    return max(1, min(rows, fits))


@torch.no_grad()
def refsr_super_resolve(
    lr: torch.Tensor, ref: torch.Tensor, models: RefSRModels, fusion: str = "mask", search: int = 100,
    batch: int = 256, memory_budget: float = 2e9, progress: bool = False, timer: StageTimer | NoTimer = NoTimer(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """float LR (1, 3, h, w) + HR reference (1, 3, H', W') -> (SR (1, 3, 8h, 8w), fusion weight sum (8h, 8w))."""
    h, w = lr.shape[-2:]
    if h < PATCH or w < PATCH:
        raise InputError("<input>", f"LR image of {w}x{h} is smaller than one {PATCH}x{PATCH} patch")
    hp, wp = padded_lr_size(h, w)
    lr_pad = F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate")
    with timer("lr_features"):
        f_lr = models.srresnet_nn.body(lr_pad)[0]
        bicubic = upsample(lr_pad, SCALE, "bicubic")[0]
        lr_up = upsample(lr_pad, SCALE, "bilinear")
    rows, cols = patch_grid(hp, wp)
    H, W = hp * SCALE, wp * SCALE
    out = torch.zeros(3, H, W, device=lr.device)
    weight = torch.zeros(1, H, W, device=lr.device)
    band = _band_rows(rows, cols, max(W, ref.shape[-1]), search, memory_budget)
    step = STRIDE * SCALE
    bar = tqdm(total=rows * cols, desc="refsr", unit="patch", disable=not progress, leave=False)
    for r0 in range(0, rows, band):
        r1 = min(rows, r0 + band)
        tops = patch_origins(range(r0, r1), cols, lr.device)
        centers = patch_centers(tops)
        matches = match_centers(models.ccnet, lr_up, ref, centers, search, timer)
        parts, weights = [], []
        for i in range(0, len(tops), batch):
            t = tops[i : i + batch]
            with timer("patch_gathering"):
                inputs = (gather(f_lr, t, PATCH), reference_patches(ref[0], matches[i : i + batch], PATCH * SCALE),
                          gather(bicubic, t * SCALE, PATCH * SCALE))
            with timer("ssnet"):
                sr, mask = models.ssnet(*inputs)
            with timer("fusion"):
                wgt = fusion_weights(mask, fusion)
                parts.append(sr * wgt)
                weights.append(wgt)
            bar.update(len(t))
        with timer("fusion"):
            y0 = r0 * step
            band_out = fold_band(torch.cat(parts), cols, SCALE)
            out[:, y0 : y0 + band_out.shape[1]] += band_out
            weight[:, y0 : y0 + band_out.shape[1]] += fold_band(torch.cat(weights), cols, SCALE)
    bar.close()
    sr = (out / weight.clamp_min(1e-8))[:, : h * SCALE, : w * SCALE]
    return sr[None].clamp(0, 1), weight[0, : h * SCALE, : w * SCALE]
