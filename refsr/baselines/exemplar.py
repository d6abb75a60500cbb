"""The exemplar baseline (the paper's "PatchMatch" row): paste the gradient-matched 64x64 reference patches, average."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from refsr.degrade import SCALE, upsample
from refsr.matching import blur_reference
from refsr.matching.handcrafted import gradient_features
from refsr.matching.search import SEARCH, l2_as_dot, window_search
from refsr.patches import (HR_PATCH, fold_band, padded_lr_size, patch_centers, patch_grid, patch_origins,
                           reference_patches)

SEARCH_TILE = 64
"""Side of the centre bins of `window_search`; the search runs one row of bins at a time."""


@torch.no_grad()
def gradient_matches(lr_up: torch.Tensor, ref: torch.Tensor, centers: torch.Tensor, search: int = SEARCH,
                     progress: bool = False) -> torch.Tensor:
    """`refsr.matching.match_tensors(lr_up, ref, centers, "gradient", search)`, one row of bins at a time.

    Every bin of centres is searched whole, exactly as in one call, so the matches are the same.

    Args:
        lr_up: the input upsampled to HR size (1, 3, H, W).
        ref: the HR reference (1, 3, H', W').
        centers: (N, 2) long (y, x) centres in `lr_up`.
        search: the search radius in HR pixels.
        progress: show a progress bar of the bin rows on stderr.

    Returns:
        (N, 2) long (y, x) matches in `ref`.
    """
    query = gradient_features(lr_up)[:, centers[:, 0], centers[:, 1]].T.contiguous()
    query, feat_ref = l2_as_dot(query, gradient_features(blur_reference(ref)))
    feat_ref = feat_ref.permute(1, 2, 0).contiguous().permute(2, 0, 1)  # pixel-major once, not once per row
    bin_rows = centers[:, 0].clamp(0, feat_ref.shape[1] - 1) // SEARCH_TILE
    matches = torch.zeros_like(centers)
    for row in tqdm(torch.unique(bin_rows).tolist(), desc="exemplar", unit="row", disable=not progress, leave=False):
        idx = torch.nonzero(bin_rows == row).squeeze(1)
        matches[idx] = window_search(query[idx], feat_ref, centers[idx], search, tile=SEARCH_TILE)
    return matches


@torch.no_grad()
def exemplar_super_resolve(lr: torch.Tensor, ref: torch.Tensor, search: int = SEARCH,
                           progress: bool = False) -> torch.Tensor:
    """Super-resolve float LR x8: every patch is its gradient-matched reference patch, overlaps averaged.

    Args:
        lr: the LR input (1, 3, h, w) in [0, 1].
        ref: the HR reference (1, 3, H, W) in [0, 1].
        search: the match search radius in HR pixels.
        progress: show a progress bar of the search on stderr.

    Returns:
        SR (1, 3, 8h, 8w).
    """
    h, w = lr.shape[-2:]
    hp, wp = padded_lr_size(h, w)
    lr_up = upsample(F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate"), SCALE, "bilinear")
    rows, cols = patch_grid(hp, wp)
    centers = patch_centers(patch_origins(range(rows), cols, lr.device))
    matches = gradient_matches(lr_up, ref, centers, search, progress)
    patches = reference_patches(ref[0], matches, HR_PATCH)
    total = fold_band(patches, cols, SCALE)
    count = fold_band(torch.ones_like(patches[:, :1]), cols, SCALE)
    return (total / count)[None, :, : h * SCALE, : w * SCALE]
