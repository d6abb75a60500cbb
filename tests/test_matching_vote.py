"""refsr.matching.vote: alone a centre is the plain window search; with its neighbours it outvotes its own errors."""
from __future__ import annotations

import pytest
import torch

from refsr.matching.search import bin_index, window_search
from refsr.matching.vote import vote_window_search, window_probabilities

C, H, W = 16, 60, 64


def _unit_features(seed: int, c: int = C, h: int = H, w: int = W) -> torch.Tensor:
    f = torch.randn(c, h, w, generator=torch.Generator().manual_seed(seed))
    return f / f.norm(dim=0, keepdim=True)


def _grid(lo: int, hi_y: int, hi_x: int, step: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(lo, hi_y, step), torch.arange(lo, hi_x, step), indexing="ij")
    return torch.stack([ys, xs], -1).reshape(-1, 2)


def test_a_centre_alone_is_the_plain_window_search() -> None:
    g = torch.Generator().manual_seed(1)
    ref, inp = _unit_features(2), _unit_features(3)
    centers = torch.stack([torch.randint(0, H, (70,), generator=g), torch.randint(0, W, (70,), generator=g)], 1)
    plain = window_search(inp[:, centers[:, 0], centers[:, 1]].T.contiguous(), ref, centers, 6)
    assert torch.equal(vote_window_search(inp, centers, ref, centers, 6, spacing=0), plain)


@pytest.mark.parametrize("tile, block", [(8, 4), (16, 20), (1000, 1000)])
def test_neighbours_outvote_a_corrupted_centre(tile: int, block: int) -> None:
    ref = _unit_features(4)
    dy, dx = 3, -4
    inp = torch.roll(ref, shifts=(-dy, -dx), dims=(1, 2))  # inp(y, x) = ref(y + dy, x + dx)
    centers = _grid(14, H - 14, W - 14, 4)
    corrupted = centers[::3]
    inp[:, corrupted[:, 0], corrupted[:, 1]] = _unit_features(5, h=1, w=len(corrupted))[:, 0]
    truth = centers + torch.tensor([dy, dx])
    alone = vote_window_search(inp, centers, ref, centers, 8, spacing=0, tile=tile)
    voted = vote_window_search(inp, centers, ref, centers, 8, spacing=4, tile=tile, block=block)
    assert (alone != truth).any(1).sum() >= len(corrupted) - 2  # a random feature rarely lands on the truth
    assert torch.equal(voted, truth)


def test_a_small_memory_budget_takes_smaller_blocks_with_the_same_matches(monkeypatch) -> None:
    from refsr.matching import vote

    ref, inp = _unit_features(13), _unit_features(14)
    centers = _grid(0, H, W, 2)  # dense centres: many distinct queries per block
    roomy = vote_window_search(inp, centers, ref, centers, 6, spacing=4, block=64)
    taken = []
    partition = vote._block_queries

    def recorded(*args):
        blocks = partition(*args)
        taken.append((args[-2], max(len(idx) + len(keys) for idx, keys, _ in blocks)))
        return blocks

    monkeypatch.setattr(vote, "_block_queries", recorded)
    rows = 40  # probability rows of 13 x 13 floats that the budget holds
    tight = vote_window_search(inp, centers, ref, centers, 6, spacing=4, block=64, memory_budget=rows * 4 * 13 * 13)
    assert torch.equal(tight, roomy)
    assert taken[0][0] == 64 and taken[0][1] > rows  # the whole image in one block would not fit
    assert taken[-1][0] < 64 and taken[-1][1] <= rows


def test_matches_stay_in_the_window_and_the_reference_near_the_borders() -> None:
    ref, inp = _unit_features(6, h=30, w=34), _unit_features(7)
    centers = torch.tensor([[0, 0], [H - 1, W - 1], [0, W - 1], [H - 1, 3], [40, 50]])  # beyond the smaller reference
    found = vote_window_search(inp, centers, ref, centers, 5, spacing=8)
    near = torch.minimum(centers, torch.tensor([29, 33]))
    assert ((found - near).abs() <= 5).all()
    assert ((found >= 0) & (found < torch.tensor([30, 34]))).all()


def test_window_probabilities_are_a_softmax_over_the_reference_part_of_the_window() -> None:
    ref = _unit_features(8, h=20, w=22)
    query = _unit_features(9, h=1, w=3)[:, 0].T
    centers = torch.tensor([[10, 11], [0, 21], [-3, 5]])  # inside, on a corner, above the reference
    search, temperature = 4, 0.1
    prob = window_probabilities(query, ref.permute(1, 2, 0).contiguous(), centers, search, temperature, tile=8)
    side = 2 * search + 1
    for i, (cy, cx) in enumerate(centers.tolist()):
        logits = torch.full((side, side), float("-inf"))
        for a in range(side):
            for b in range(side):
                y, x = cy - search + a, cx - search + b
                if 0 <= y < 20 and 0 <= x < 22:
                    logits[a, b] = query[i] @ ref[:, y, x] / temperature
        torch.testing.assert_close(prob[i], torch.softmax(logits.flatten(), 0))


def test_window_probabilities_do_not_depend_on_the_order_of_the_queries() -> None:
    ref = _unit_features(10, h=40, w=44)
    query = _unit_features(11, h=1, w=50)[:, 0].T
    g = torch.Generator().manual_seed(12)
    centers = torch.stack([torch.randint(-5, 45, (50,), generator=g), torch.randint(-5, 49, (50,), generator=g)], 1)
    hwc = ref.permute(1, 2, 0).contiguous()
    prob = window_probabilities(query, hwc, centers, 6, 0.1, tile=8)  # scattered bins: rows copied into place
    order = torch.argsort(bin_index(centers[:, 0].clamp(0, 39), centers[:, 1].clamp(0, 43), 44, 8), stable=True)
    in_place = window_probabilities(query[order], hwc, centers[order], 6, 0.1, tile=8)  # bins contiguous
    assert torch.equal(in_place, prob[order])


def test_bad_features_are_refused() -> None:
    with pytest.raises(ValueError, match="features of equal C"):
        vote_window_search(torch.zeros(8, 5, 5), torch.zeros(1, 2, dtype=torch.long), torch.zeros(4, 5, 5),
                           torch.zeros(1, 2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="differ"):
        vote_window_search(torch.zeros(8, 5, 5), torch.zeros(2, 2, dtype=torch.long), torch.zeros(8, 5, 5),
                           torch.zeros(1, 2, dtype=torch.long), 2)


def test_no_centres_give_no_matches() -> None:
    found = vote_window_search(_unit_features(1), torch.zeros(0, 2, dtype=torch.long), _unit_features(2),
                               torch.zeros(0, 2, dtype=torch.long), 5)
    assert found.shape == (0, 2) and found.dtype == torch.long
