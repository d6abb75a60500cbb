"""Iterative back-projection: make an SR result degrade to exactly its LR input."""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from refsr.degrade import SCALE, downsample, upsample


def back_project(sr: torch.Tensor, lr: torch.Tensor, iterations: int, scale: int = SCALE,
                 progress: bool = False) -> torch.Tensor:
    """x <- x + bicubic_up(lr - degrade(x)), `iterations` times; float NCHW in [0, 1].

    Args:
        sr: the SR estimate (N, C, s*h, s*w).
        lr: the LR input (N, C, h, w) it must degrade to.
        iterations: how many corrections to apply (0: `sr` unchanged).
        scale: the SR factor s.
        progress: show a progress bar of the iterations on stderr.

    Returns:
        The corrected estimate, same shape as `sr`, clamped to [0, 1].
    """
    for _ in tqdm(range(iterations), desc="back-project", unit="it", disable=not progress, leave=False):
        sr = (sr + upsample(lr - downsample(sr, scale), scale, "bicubic")).clamp(0, 1)
    return sr
