"""Iterative back-projection: make an SR result degrade to exactly its LR input."""
from __future__ import annotations

import torch

from refsr.degrade import SCALE, downsample, upsample


def back_project(sr: torch.Tensor, lr: torch.Tensor, iterations: int, scale: int = SCALE) -> torch.Tensor:
    """x <- x + bicubic_up(lr - degrade(x)), `iterations` times; float NCHW in [0, 1]."""
    for _ in range(iterations):
        sr = (sr + upsample(lr - downsample(sr, scale), scale, "bicubic")).clamp(0, 1)
    return sr
