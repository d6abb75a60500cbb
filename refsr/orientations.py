"""Patch orientations: neighbouring patches are synthesised as they are, mirrored or transposed, in turn.

SS-Net's convolutions are not mirror-symmetric, so its errors depend on the orientation it sees a patch
in, and the overlapping predictions of one pixel, all made in one orientation, share them. Giving
neighbouring patches different symmetries of the square lets the fusion average those errors out, as a
test-time self-ensemble does, at no extra SS-Net cost: only the LR features are made once per orientation.
"""
from __future__ import annotations

import torch

ORIENTATIONS = (1, 2, 4, 8)  # how many symmetries of the square may take turns (8: all of them)


def orient(x: torch.Tensor, k: int) -> torch.Tensor:
    """Symmetry `k` of the last two dims: bit 2 transposes, then bit 1 flips the rows and bit 0 the columns.

    Args:
        x: (..., H, W).
        k: in [0, 8).

    Returns:
        (..., H, W), or (..., W, H) where k transposes.
    """
    if k & 4:
        x = x.transpose(-2, -1)
    if k & 2:
        x = x.flip(-2)
    return x.flip(-1) if k & 1 else x


def unorient(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of `orient(., k)`."""
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    return x.transpose(-2, -1) if k & 4 else x


def orient_each(x: torch.Tensor, ks: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Each item of a batch of square patches in its own orientation (or back, `inverse`).

    Args:
        x: (N, C, S, S).
        ks: (N,) long orientations in [0, 8).

    Returns:
        (N, C, S, S).
    """
    if x.shape[-1] != x.shape[-2] or ks.shape != x.shape[:1]:
        raise ValueError(f"expected (N, C, S, S) patches and (N,) orientations, got {tuple(x.shape)} and "
                         f"{tuple(ks.shape)}")
    out = torch.empty_like(x)
    for k in ks.unique().tolist():
        chosen = ks == k
        out[chosen] = (unorient if inverse else orient)(x[chosen], k)
    return out


def patch_orientations(rows: torch.Tensor, cols: torch.Tensor, count: int) -> torch.Tensor:
    """The orientation of each patch of a grid: `count` symmetries taking turns along rows and columns.

    Neighbouring columns alternate the column flip, neighbouring rows the row flip, and 2 x 2 blocks of
    patches the transpose, so the patches covering a pixel (4 x 4 on SS-Net's grid) see each in turn.

    Args:
        rows, cols: long patch row and column indices of the same shape.
        count: one of ORIENTATIONS (1: every patch as it is).

    Returns:
        long orientations in [0, count), their shape.
    """
    if count not in ORIENTATIONS:
        raise ValueError(f"orientations must be one of {ORIENTATIONS}, got {count}")
    every = cols % 2 + 2 * (rows % 2) + 4 * ((rows // 2 + cols // 2) % 2)
    return every % count
