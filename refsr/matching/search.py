"""Windowed correspondence search as batched matrix products (cf. RAFT's core/corr.py).

Every matcher in refsr reduces to: a feature vector per input centre, a dense feature map of
the reference, and the best-scoring reference pixel within +-search of the centre.
"""
from __future__ import annotations

import torch

SEARCH = 100  # default search radius in HR pixels, at inference and in SS-Net training (docs/method.md "Matching")


def l2_as_dot(query: torch.Tensor, ref_feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment features so that <q', g'> = 2<q, g> - |g|^2 = -|q - g|^2 + |q|^2 (argmax = L2 nearest)."""
    q = torch.cat([2 * query, -torch.ones_like(query[:, :1])], dim=1)
    g = torch.cat([ref_feat, ref_feat.pow(2).sum(0, keepdim=True)], dim=0)
    return q, g


def bin_index(cy: torch.Tensor, cx: torch.Tensor, width: int, tile: int) -> torch.Tensor:
    """The `tile` x `tile` px bin (row-major) of each centre (cy, cx) of an image `width` px wide."""
    return (cy // tile) * ((width + tile - 1) // tile) + cx // tile


def bin_scores(query: torch.Tensor, hwc: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, search: int, tile: int):
    """Scores of centres against the union of their windows, one bin of `tile` x `tile` px at a time.

    Args:
        query: (N, C) features of the centres.
        hwc: (H, W, C) pixel-major reference features (a window is then a strided view, never a copy).
        cy, cx: (N,) long centre rows and columns in the reference, inside it.
        search: window radius in px.
        tile: bin side in px.

    Returns:
        An iterator of (idx (n,) ascending centres of the bin, y0, x0, scores (rows, n, cols) of the union
        window starting at (y0, x0)), one per bin, bins in `bin_index` order.
    """
    h, w = hwc.shape[:2]
    bins = bin_index(cy, cx, w, tile)
    for b in torch.unique(bins).tolist():
        idx = torch.nonzero(bins == b).squeeze(1)
        by, bx = cy[idx], cx[idx]
        y0, y1 = max(int(by.min()) - search, 0), min(int(by.max()) + search + 1, h)
        x0, x1 = max(int(bx.min()) - search, 0), min(int(bx.max()) + search + 1, w)
        window = hwc[y0:y1, x0:x1]  # (rows, cols, C)
        yield idx, y0, x0, torch.matmul(query[idx].to(window.dtype), window.transpose(1, 2))


def window_search(
    query: torch.Tensor, ref_feat: torch.Tensor, centers: torch.Tensor, search: int,
    tile: int = 64, return_scores: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Best reference pixel (y, x) for each centre: argmax of <query_i, ref_feat[:, y, x]>.

    query (N, C) features of the centres; ref_feat (C, H, W); centers (N, 2) long (y, x) in
    reference coordinates; candidates |y - cy| <= search, |x - cx| <= search, inside the image.
    Centres are grouped by `tile` x `tile` bins so each bin is one batched matrix product (one
    per window row) against the union of its windows (memory ~ n_bin * (tile + 2 search)^2 scores).
    """
    c, h, w = ref_feat.shape
    n = centers.shape[0]
    best = torch.zeros(n, 2, dtype=torch.long, device=ref_feat.device)
    best_score = torch.full((n,), float("-inf"), device=ref_feat.device)
    if n == 0:
        return (best, best_score) if return_scores else best
    cy = centers[:, 0].clamp(0, h - 1)
    cx = centers[:, 1].clamp(0, w - 1)
    for idx, y0, x0, scores in bin_scores(query, ref_feat.permute(1, 2, 0).contiguous(), cy, cx, search, tile):
        by, bx = cy[idx], cx[idx]
        ys = torch.arange(y0, y0 + scores.shape[0], device=ref_feat.device)
        xs = torch.arange(x0, x0 + scores.shape[2], device=ref_feat.device)
        outside_x = torch.where((xs[None, :] - bx[:, None]).abs() <= search, 0.0, float("-inf"))  # (n_bin, cols)
        outside_y = torch.where((ys[:, None] - by[None, :]).abs() <= search, 0.0, float("-inf"))  # (rows, n_bin)
        scores += outside_x
        row_top, row_arg = scores.max(dim=2)  # best column per (row, centre)
        top, arg_y = (row_top + outside_y).max(dim=0)
        best[idx, 0] = y0 + arg_y
        best[idx, 1] = x0 + row_arg.gather(0, arg_y[None])[0]
        best_score[idx] = top.float()
    return (best, best_score) if return_scores else best
