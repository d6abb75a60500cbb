"""Windowed correspondence search as batched matrix products (cf. RAFT's core/corr.py).

Every matcher in refsr reduces to: a feature vector per input centre, a dense feature map of
the reference, and the best-scoring reference pixel within +-search of the centre.
"""
from __future__ import annotations

import torch


def l2_as_dot(query: torch.Tensor, ref_feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment features so that <q', g'> = 2<q, g> - |g|^2 = -|q - g|^2 + |q|^2 (argmax = L2 nearest)."""
    q = torch.cat([2 * query, -torch.ones_like(query[:, :1])], dim=1)
    g = torch.cat([ref_feat, ref_feat.pow(2).sum(0, keepdim=True)], dim=0)
    return q, g


def window_search(
    query: torch.Tensor, ref_feat: torch.Tensor, centers: torch.Tensor, search: int,
    tile: int = 64, return_scores: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Best reference pixel (y, x) for each centre: argmax of <query_i, ref_feat[:, y, x]>.

    query (N, C) features of the centres; ref_feat (C, H, W); centers (N, 2) long (y, x) in
    reference coordinates; candidates |y - cy| <= search, |x - cx| <= search, inside the image.
    Centres are grouped by `tile` x `tile` bins so each bin is one matrix product against the
    union of its windows (memory ~ C * (tile + 2 search)^2 per bin).
    """
    c, h, w = ref_feat.shape
    n = centers.shape[0]
    best = torch.zeros(n, 2, dtype=torch.long, device=ref_feat.device)
    best_score = torch.full((n,), float("-inf"), device=ref_feat.device)
    if n == 0:
        return (best, best_score) if return_scores else best
    cy = centers[:, 0].clamp(0, h - 1)
    cx = centers[:, 1].clamp(0, w - 1)
    bins = (cy // tile) * ((w + tile - 1) // tile) + cx // tile
    for b in torch.unique(bins).tolist():
        idx = torch.nonzero(bins == b).squeeze(1)
        by, bx = cy[idx], cx[idx]
        y0, y1 = max(int(by.min()) - search, 0), min(int(by.max()) + search + 1, h)
        x0, x1 = max(int(bx.min()) - search, 0), min(int(bx.max()) + search + 1, w)
        window = ref_feat[:, y0:y1, x0:x1]
        scores = query[idx] @ window.reshape(c, -1)  # (n_bin, window pixels)
        ys = torch.arange(y0, y1, device=ref_feat.device)
        xs = torch.arange(x0, x1, device=ref_feat.device)
        inside_y = (ys[None, :] - by[:, None]).abs() <= search
        inside_x = (xs[None, :] - bx[:, None]).abs() <= search
        inside = (inside_y[:, :, None] & inside_x[:, None, :]).reshape(len(idx), -1)
        scores = scores.masked_fill(~inside, float("-inf"))
        top, arg = scores.max(dim=1)
        best[idx, 0] = y0 + arg // (x1 - x0)
        best[idx, 1] = x0 + arg % (x1 - x0)
        best_score[idx] = top
    return (best, best_score) if return_scores else best
