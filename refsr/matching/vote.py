"""Neighbourhood vote: a centre's match from the pooled match distributions of the queries around it.

CC-Net reads matching as classification (docs/method.md "CC-Net inference"): softmax(score /
temperature) over a query's search window is a distribution over where that query lies in the
reference. Neighbouring points mostly move together, so a centre takes the displacement d that the
3x3 queries at +-spacing around it find most probable together: argmax_d sum_o p_{c+o}(c + o + d).
A sum (a mixture), not a product, so that a neighbour across a motion boundary adds a second peak
instead of vetoing the first.
"""
from __future__ import annotations

import torch

from refsr.archs.ccnet import TEMPERATURE
from refsr.matching.search import bin_index, bin_scores

VOTE_SPACING = 32  # HR px between the voting queries (docs/method.md "CC-Net inference")


def _pad(scores: torch.Tensor, pads: tuple[int, ...], value: float) -> torch.Tensor:
    """`torch.nn.functional.pad(scores, pads, value=value)` of (rows, n, cols) scores, filling only the border."""
    left, right, _, _, top, bottom = pads
    rows, n, cols = scores.shape
    out = scores.new_empty(top + rows + bottom, n, left + cols + right)
    out[:top].fill_(value)
    out[top + rows:].fill_(value)
    middle = out[top:top + rows]
    middle[:, :, :left].fill_(value)
    middle[:, :, left + cols:].fill_(value)
    middle[:, :, left:left + cols].copy_(scores)
    return out


def window_probabilities(query: torch.Tensor, hwc: torch.Tensor, centers: torch.Tensor, search: int,
                         temperature: float, tile: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax of each query's scores over its own window, indexed by displacement.

    Args:
        query: (M, C) features of the queries.
        hwc: (H, W, C) pixel-major reference features.
        centers: (M, 2) long reference pixel each query searches around; its window must meet the reference.
        search: window radius in px.
        temperature: scale of the scores.
        tile: bin side of `bin_scores`; queries sorted by `bin_index` are written in place, without a copy.
        out: (>= M, S * S) float32 tensor to write the rows into, else a new one.

    Returns:
        (M, S * S) probabilities, S = 2 search + 1, row-major over (dy, dx); 0 outside the reference.
    """
    h, w = hwc.shape[:2]
    side = 2 * search + 1
    prob = torch.empty(len(query), side * side, device=hwc.device) if out is None else out[:len(query)]
    cy, cx = centers[:, 0], centers[:, 1]
    # Bins take centres clamped into the reference: the part of a window inside the reference stays in theirs.
    for idx, y0, x0, scores in bin_scores(query / temperature, hwc, cy.clamp(0, h - 1), cx.clamp(0, w - 1), search,
                                          tile):
        top, left = cy[idx] - search - y0, cx[idx] - search - x0  # own window's corner in the union window
        pads = (max(0, -int(left.min())), max(0, int(left.max()) + side - scores.shape[2]), 0, 0,
                max(0, -int(top.min())), max(0, int(top.max()) + side - scores.shape[0]))
        if any(pads):  # the part of a window beyond the reference scores -inf
            scores = _pad(scores, pads, float("-inf"))
            top, left = top + pads[4], left + pads[0]
        rows, n, cols = scores.shape
        # Row k of `windows` is the side x side view starting at flat offset k: each own window is one row.
        windows = scores.as_strided((scores.numel() - (side - 1) * (n * cols + 1), side, side), (1, n * cols, 1))
        offsets = (top * n + torch.arange(n, device=hwc.device)) * cols + left
        in_place = int(idx[-1] - idx[0]) + 1 == n
        own = prob[int(idx[0]):int(idx[0]) + n] if in_place else prob.new_empty(n, side * side)
        torch.index_select(windows, 0, offsets, out=own.view(n, side, side))
        own.sub_(own.amax(1, keepdim=True)).exp_()
        own.div_(own.sum(1, keepdim=True))
        if not in_place:
            prob.index_copy_(0, idx, own)
    return prob


Block = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (centres, their distinct queries, centre -> query rows)


def _block_queries(q_in: torch.Tensor, q_ref: torch.Tensor, votes: torch.Tensor, centre_ref: torch.Tensor,
                   ref_size: tuple[int, int], block: int, tile: int) -> list[Block]:
    """Per `block` x `block` px block of centres: (centre indices, its distinct queries (y, x, y_ref, x_ref) in
    `bin_index` order, each centre's 9 query rows there or -1 where that neighbour does not vote)."""
    h, w = ref_size
    blocks = bin_index(centre_ref[:, 0], centre_ref[:, 1], w, block)
    found = []
    for b in torch.unique(blocks).tolist():
        idx = torch.nonzero(blocks == b).squeeze(1)
        keys, slot = torch.unique(torch.cat([q_in[idx], q_ref[idx]], -1)[votes[idx]], dim=0, return_inverse=True)
        # queries in bin order, so that `window_probabilities` writes them in place
        order = torch.argsort(bin_index(keys[:, 2].clamp(0, h - 1), keys[:, 3].clamp(0, w - 1), w, tile), stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order), device=order.device)
        query_slot = torch.full(votes[idx].shape, -1, dtype=torch.long, device=order.device)
        query_slot[votes[idx]] = rank[slot]
        found.append((idx, keys[order], query_slot))
    return found


def vote_window_search(
    feat_in: torch.Tensor, in_centers: torch.Tensor, ref_feat: torch.Tensor, ref_centers: torch.Tensor,
    search: int, spacing: int = VOTE_SPACING, temperature: float = TEMPERATURE, tile: int = 64, block: int = 256,
    memory_budget: float = 1e9,
) -> torch.Tensor:
    """Best reference pixel (y, x) of each centre by the vote of the 3x3 queries at +-`spacing` around it.

    Args:
        feat_in: (C, H, W) features of the input; the queries are its pixels.
        in_centers: (N, 2) long centres (y, x) in `feat_in`.
        ref_feat: (C, H', W') features of the reference.
        ref_centers: (N, 2) long reference pixel each centre searches around (clamped into the reference).
        search: window radius in px; candidates |y - cy| <= search, |x - cx| <= search, inside the reference.
        spacing: px between the voting queries (0: the centre alone); queries outside the input do not vote.
        temperature: scale of the scores in the softmax (the one CC-Net was trained with).
        tile: queries are scored in `tile` x `tile` px bins (`bin_scores`).
        block: centres are taken `block` x `block` px at a time (memory bounded whatever the image size);
            each query of a block is scored once.
        memory_budget: bytes for a block's window probabilities and vote sums; `block` is halved until
            every block fits (dense centres need smaller blocks).

    Returns:
        (N, 2) long best reference pixels.
    """
    if feat_in.dim() != 3 or ref_feat.dim() != 3 or feat_in.shape[0] != ref_feat.shape[0]:
        raise ValueError(f"expected (C, H, W) features of equal C, got {tuple(feat_in.shape)} and "
                         f"{tuple(ref_feat.shape)}")
    if in_centers.shape != ref_centers.shape:
        raise ValueError(f"in_centers {tuple(in_centers.shape)} and ref_centers {tuple(ref_centers.shape)} differ")
    device = ref_feat.device
    _, h, w = ref_feat.shape
    hwc = ref_feat.float().permute(1, 2, 0).contiguous()
    best = torch.zeros(len(in_centers), 2, dtype=torch.long, device=device)
    if not len(in_centers):
        return best
    steps = (-spacing, 0, spacing)
    offsets = torch.tensor([(dy, dx) for dy in steps for dx in steps], device=device)  # (9, 2), the centre 5th
    ref_size = torch.tensor([h, w], device=device)
    centre_ref = torch.minimum(ref_centers.clamp_min(0), ref_size - 1)
    q_in = in_centers[:, None] + offsets  # (N, 9, 2)
    q_ref = centre_ref[:, None] + offsets
    votes = (((q_in >= 0) & (q_in < torch.tensor(feat_in.shape[-2:], device=device))).all(-1)
             & ((q_ref >= -search) & (q_ref < ref_size + search)).all(-1))  # inside the input, window meets the ref
    d = torch.arange(-search, search + 1, device=device)
    rows_fit = max(1, int(memory_budget // (4 * len(d) ** 2)))  # float32 rows of S * S probabilities
    block_queries = _block_queries(q_in, q_ref, votes, centre_ref, (h, w), block, tile)
    while block > 1 and max(len(idx) + len(keys) for idx, keys, _ in block_queries) > rows_fit:
        block //= 2
        block_queries = _block_queries(q_in, q_ref, votes, centre_ref, (h, w), block, tile)
    most = max(len(keys) for _, keys, _ in block_queries)
    prob = torch.empty(most + 1, len(d) ** 2, device=device)
    for idx, keys, query_slot in block_queries:
        prob[len(keys)] = 0  # the vote of a missing neighbour
        window_probabilities(feat_in[:, keys[:, 0], keys[:, 1]].T.float(), hwc, keys[:, 2:], search, temperature,
                             tile, out=prob)
        # a neighbour votes for displacement d where its own window has d
        total = torch.nn.functional.embedding_bag(query_slot.masked_fill(query_slot < 0, len(keys)),
                                                  prob[:len(keys) + 1], mode="sum")
        cy, cx = centre_ref[idx, 0:1] + d, centre_ref[idx, 1:2] + d
        total = total.view(len(idx), len(d), len(d))  # candidates outside the reference lose
        row_out, col_out = (cy < 0) | (cy >= h), (cx < 0) | (cx >= w)
        if row_out.any() or col_out.any():
            total.masked_fill_(row_out[:, :, None], -1.0).masked_fill_(col_out[:, None, :], -1.0)
        flat = total.flatten(1).argmax(1)
        best[idx, 0] = centre_ref[idx, 0] + d[flat // len(d)]
        best[idx, 1] = centre_ref[idx, 1] + d[flat % len(d)]
    return best
