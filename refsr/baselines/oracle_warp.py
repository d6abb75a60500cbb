"""The oracle warp: flow-warp with the ground-truth correspondence in place of estimated flow.

Each output pixel takes the reference pixel that ground truth says it shows (bicubic where
unknown), blended with bicubic where the result disagrees with the LR input, as flow-warp does.
Not a method a user can run (it needs ground truth); the quality benchmark uses it as the ceiling
of any method that warps the reference.
"""
from __future__ import annotations

import torch

from refsr.baselines.flow_warp import blend_where_lr_agrees
from refsr.degrade import SCALE, upsample


def oracle_warp_super_resolve(lr: torch.Tensor, ref: torch.Tensor, known_matches: torch.Tensor) -> torch.Tensor:
    """Copy reference pixels along ground-truth correspondence, keep them where the LR input agrees.

    Args:
        lr: (1, 3, h, w) float LR input.
        ref: (1, 3, H', W') float HR reference.
        known_matches: (8h, 8w, 2) long reference pixel (y, x) of each output pixel, -1 where unknown.

    Returns:
        (1, 3, 8h, 8w) float SR image.
    """
    bicubic = upsample(lr, SCALE, "bicubic").clamp(0, 1)
    if known_matches.shape != (*bicubic.shape[-2:], 2):
        raise ValueError(f"known_matches must be {(*bicubic.shape[-2:], 2)}, got {tuple(known_matches.shape)}")
    warped = bicubic.clone()
    known = known_matches[..., 0] >= 0
    source = known_matches[known]
    warped[0][:, known] = ref[0][:, source[:, 0], source[:, 1]]
    return blend_where_lr_agrees(warped, lr, bicubic)[0]
