"""Patch orientations (refsr.orientations): the symmetries of the square, their inverses and their turns."""
from __future__ import annotations

import pytest
import torch

from refsr.orientations import ORIENTATIONS, orient, orient_each, patch_orientations, unorient


def test_the_eight_orientations_are_distinct_symmetries_with_inverses() -> None:
    x = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(2, 4, 5)  # not square: transposes show
    seen = set()
    for k in range(8):
        y = orient(x, k)
        assert torch.equal(unorient(y, k), x)
        assert y.shape == (2, 5, 4) if k & 4 else y.shape == x.shape
        seen.add(tuple(orient(x[0, :4, :4], k).flatten().tolist()))
    assert len(seen) == 8


def test_orient_each_orients_every_item_its_own_way() -> None:
    x = torch.rand(8, 3, 6, 6)
    ks = torch.tensor([3, 0, 7, 4, 4, 1, 2, 6])
    y = orient_each(x, ks)
    for i, k in enumerate(ks.tolist()):
        assert torch.equal(y[i], orient(x[i], k))
    assert torch.equal(orient_each(y, ks, inverse=True), x)


def test_orient_each_checks_its_input() -> None:
    with pytest.raises(ValueError, match="orientations"):
        orient_each(torch.rand(2, 3, 6, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="orientations"):
        orient_each(torch.rand(2, 3, 6, 6), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("count", ORIENTATIONS)
def test_the_patches_covering_a_pixel_take_every_orientation_in_turn(count: int) -> None:
    rows, cols = torch.meshgrid(torch.arange(12), torch.arange(15), indexing="ij")
    ks = patch_orientations(rows, cols, count)
    assert ks.min() == 0 and ks.max() == count - 1
    for r in range(9):  # a pixel is covered by 4 x 4 patches (SS-Net's grid)
        for c in range(12):
            block = ks[r : r + 4, c : c + 4].flatten()
            assert torch.equal(torch.bincount(block, minlength=count), torch.full((count,), 16 // count))


def test_patch_orientations_refuses_other_counts() -> None:
    with pytest.raises(ValueError, match="orientations must be one of"):
        patch_orientations(torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long), 3)
