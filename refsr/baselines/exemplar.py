"""The exemplar baseline (the paper's "PatchMatch" row): paste the gradient-matched 64x64 reference patches, average."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from refsr.degrade import SCALE, upsample
from refsr.matching import match_tensors
from refsr.patches import PATCH, fold_band, padded_lr_size, patch_centers, patch_grid, patch_origins, reference_patches


@torch.no_grad()
def exemplar_super_resolve(lr: torch.Tensor, ref: torch.Tensor, search: int = 100) -> torch.Tensor:
    """float LR (1, 3, h, w) + HR reference -> (1, 3, 8h, 8w): every patch is its matched reference patch."""
    h, w = lr.shape[-2:]
    hp, wp = padded_lr_size(h, w)
    lr_up = upsample(F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate"), SCALE, "bilinear")
    rows, cols = patch_grid(hp, wp)
    centers = patch_centers(patch_origins(range(rows), cols, lr.device))
    matches = match_tensors(lr_up, ref, centers, "gradient", search)
    patches = reference_patches(ref[0], matches, PATCH * SCALE)
    total = fold_band(patches, cols, SCALE)
    count = fold_band(torch.ones_like(patches[:, :1]), cols, SCALE)
    return (total / count)[None, :, : h * SCALE, : w * SCALE]
