"""refsr.matching.search: window_search finds a known shift within +-search only; l2_as_dot turns L2 into a dot."""
from __future__ import annotations

import pytest
import torch

from refsr.matching.search import l2_as_dot, window_search

C, H, W = 16, 48, 56


def _unit_features(seed: int, c: int = C, h: int = H, w: int = W) -> torch.Tensor:
    """(c, h, w) random features of unit norm per pixel: <f(p), f(q)> is largest (1) at q = p."""
    f = torch.randn(c, h, w, generator=torch.Generator().manual_seed(seed))
    return f / f.norm(dim=0, keepdim=True)


def _grid(lo: int, hi_y: int, hi_x: int, step: int = 3) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(lo, hi_y, step), torch.arange(lo, hi_x, step), indexing="ij")
    return torch.stack([ys, xs], -1).reshape(-1, 2)


def _queries(inp: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    return inp[:, centers[:, 0], centers[:, 1]].T.contiguous()


@pytest.mark.parametrize("dy, dx", [(0, 0), (3, -5), (-8, 8), (7, 1)])
@pytest.mark.parametrize("metric", ["dot", "l2"])
def test_finds_a_known_shift_at_interior_centres(dy: int, dx: int, metric: str) -> None:
    if metric == "dot":
        ref = _unit_features(0)
    else:  # unnormalised: the plain dot would prefer long vectors, the L2 augmentation must not
        g = torch.Generator().manual_seed(1)
        ref = torch.randn(C, H, W, generator=g) * (0.2 + 3 * torch.rand(1, H, W, generator=g))
    inp = torch.roll(ref, shifts=(-dy, -dx), dims=(1, 2))  # inp(y, x) = ref(y + dy, x + dx)
    centers = _grid(8, H - 8, W - 8)
    query = _queries(inp, centers)
    if metric == "l2":
        query, ref = l2_as_dot(query, ref)
    found = window_search(query, ref, centers, search=8, tile=16)
    assert found.dtype == torch.long and found.shape == centers.shape
    assert torch.equal(found, centers + torch.tensor([dy, dx]))


@pytest.mark.parametrize("dy, dx", [(0, 9), (-9, 0), (12, -12)])
def test_a_shift_beyond_the_radius_is_not_found(dy: int, dx: int) -> None:
    ref = _unit_features(2)
    inp = torch.roll(ref, shifts=(-dy, -dx), dims=(1, 2))
    centers = _grid(13, H - 13, W - 13)
    found = window_search(_queries(inp, centers), ref, centers, search=8, tile=16)
    assert not (found == centers + torch.tensor([dy, dx])).all(1).any()
    assert (found - centers).abs().max() <= 8
    wider = window_search(_queries(inp, centers), ref, centers, search=12, tile=16)
    assert torch.equal(wider, centers + torch.tensor([dy, dx]))


def test_scores_are_the_best_dot_product_in_the_clipped_window() -> None:
    g = torch.Generator().manual_seed(3)
    ref = torch.randn(C, H, W, generator=g)
    inside = torch.stack([torch.randint(0, H, (40,), generator=g), torch.randint(0, W, (40,), generator=g)], 1)
    centers = torch.cat([torch.tensor([[0, 0], [H - 1, W - 1], [0, W - 1], [H - 1, 3]]), inside])  # corners too
    query = torch.randn(len(centers), C, generator=g)
    search = 5
    found, scores = window_search(query, ref, centers, search, tile=8, return_scores=True)
    for i, (cy, cx) in enumerate(centers.tolist()):
        y0, y1, x0, x1 = max(cy - search, 0), min(cy + search + 1, H), max(cx - search, 0), min(cx + search + 1, W)
        dots = torch.einsum("c,chw->hw", query[i], ref[:, y0:y1, x0:x1])
        y, x = found[i].tolist()
        assert y0 <= y < y1 and x0 <= x < x1
        torch.testing.assert_close(scores[i], dots.max())
        torch.testing.assert_close(scores[i], query[i] @ ref[:, y, x])


def test_the_tile_size_changes_nothing() -> None:
    ref = _unit_features(4)
    g = torch.Generator().manual_seed(5)
    centers = torch.stack([torch.randint(0, H, (80,), generator=g), torch.randint(0, W, (80,), generator=g)], 1)
    query = torch.randn(80, C, generator=g)
    results = [window_search(query, ref, centers, 6, tile=t, return_scores=True) for t in (4, 16, 64, 1000)]
    for found, scores in results[1:]:
        assert torch.equal(found, results[0][0])
        torch.testing.assert_close(scores, results[0][1])


def test_a_centre_outside_the_reference_searches_from_the_nearest_pixel_inside() -> None:
    ref = _unit_features(6)
    target = torch.tensor([H - 2, W - 3])
    centers = torch.tensor([[H + 20, W + 30]])  # e.g. an input larger than the reference
    found = window_search(ref[:, target[0], target[1]][None], ref, centers, search=4)
    assert torch.equal(found[0], target)


def test_no_centres_give_no_matches() -> None:
    found, scores = window_search(torch.zeros(0, C), _unit_features(7), torch.zeros(0, 2, dtype=torch.long), 5,
                                  return_scores=True)
    assert found.shape == (0, 2) and found.dtype == torch.long and scores.shape == (0,)


def test_l2_as_dot_is_minus_the_squared_distance_plus_a_per_query_constant() -> None:
    g = torch.Generator().manual_seed(8)
    query = torch.randn(5, C, generator=g)
    ref = torch.randn(C, 6, 7, generator=g)
    q, r = l2_as_dot(query, ref)
    assert q.shape == (5, C + 1) and r.shape == (C + 1, 6, 7)
    dots = torch.einsum("nc,chw->nhw", q, r)
    dist2 = ((query[:, :, None, None] - ref[None]) ** 2).sum(1)
    const = (query ** 2).sum(1)[:, None, None]
    torch.testing.assert_close(dots, const - dist2, rtol=1e-5, atol=1e-4)
