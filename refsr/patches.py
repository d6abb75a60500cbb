"""Patch geometry of SS-Net: 8x8 LR patches at stride 2, their 64x64 HR footprints and reference crops, gather, fold."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from refsr.degrade import SCALE
from refsr.tensors import sampling_grid

PATCH = 8   # LR patch size
STRIDE = 2  # LR stride between patches
HR_PATCH = PATCH * SCALE  # HR footprint of one LR patch, and the size of a reference patch


def padded_lr_size(h: int, w: int) -> tuple[int, int]:
    """Smallest (H, W) >= (h, w) whose patch grid covers every pixel (needs h, w >= PATCH)."""
    return h + (h - PATCH) % STRIDE, w + (w - PATCH) % STRIDE


def patch_grid(h: int, w: int) -> tuple[int, int]:
    """Number of patch rows and columns on an LR image of (h, w) (already padded)."""
    return (h - PATCH) // STRIDE + 1, (w - PATCH) // STRIDE + 1


def patch_origins(rows: range, cols: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """LR top-left corners (P, 2) of the patches in patch rows `rows`, row-major."""
    ys = torch.as_tensor(list(rows), device=device) * STRIDE
    xs = torch.arange(cols, device=device) * STRIDE
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)


def gather(image: torch.Tensor, tops: torch.Tensor, size: int) -> torch.Tensor:
    """Crops (P, C, size, size) of `image` (C, H, W) at top-left corners `tops` (P, 2); caller pads."""
    ar = torch.arange(size, device=image.device)
    ys = (tops[:, 0:1] + ar)[:, :, None]
    xs = (tops[:, 1:2] + ar)[:, None, :]
    return image[:, ys, xs].permute(1, 0, 2, 3)


def patch_centers(tops: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """HR centre (y, x) of the 64x64 footprint of each LR patch top-left corner."""
    return tops * scale + PATCH * scale // 2


def reference_patches(ref: torch.Tensor, matches: torch.Tensor, size: int) -> torch.Tensor:
    """(P, 3, size, size) reference crops centred on `matches` (P, 2); ref (3, H, W), replicate-padded.

    Float matches are sub-pixel: the crop is then resampled bicubically (whole-pixel matches copy pixels).
    """
    half = size // 2
    if matches.is_floating_point():
        (h, w), ar = ref.shape[-2:], torch.arange(size, device=ref.device) - half
        ys = (matches[:, 0, None] + ar)[:, :, None].expand(-1, -1, size)
        xs = (matches[:, 1, None] + ar)[:, None, :].expand(-1, size, -1)
        grid = sampling_grid(ys, xs, h, w).to(ref.dtype)
        crops = F.grid_sample(ref[None], grid.reshape(1, -1, size, 2), mode="bicubic", padding_mode="border",
                              align_corners=False)
        return crops.reshape(ref.shape[0], -1, size, size).transpose(0, 1)
    padded = F.pad(ref[None], (half, half, half, half), mode="replicate")[0]
    return gather(padded, matches, size)  # match - half + half


def fold_band(patches: torch.Tensor, cols: int, scale: int) -> torch.Tensor:
    """Sum row-major HR patches (P, C, k, k) of whole patch rows into their band (C, Hb, Wb)."""
    p, c, k, _ = patches.shape
    rows = p // cols
    step = STRIDE * scale
    size = (k + step * (rows - 1), k + step * (cols - 1))
    cols_flat = patches.reshape(1, p, c * k * k).transpose(1, 2)
    return F.fold(cols_flat, size, kernel_size=k, stride=step)[0]
