"""refsr.patches: the SS-Net patch grid (8x8 LR at stride 2) covers every pixel; gather crops; fold_band sums."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refsr.patches import (HR_PATCH, PATCH, STRIDE, fold_band, gather, padded_lr_size, patch_centers, patch_grid,
                           patch_origins, reference_patches)

SCALE = 8
K = HR_PATCH


def _coverage(h: int, w: int) -> np.ndarray:
    """How many patches of the grid on an (h, w) LR image contain each LR pixel, by brute force."""
    rows, cols = patch_grid(h, w)
    count = np.zeros((h, w), int)
    for y, x in patch_origins(range(rows), cols).tolist():
        count[y : y + PATCH, x : x + PATCH] += 1
    return count


def test_constants():
    assert (PATCH, STRIDE) == (8, 2)


@pytest.mark.parametrize("h", range(8, 20))
def test_padded_size_is_the_smallest_the_grid_fits(h):
    hp, wp = padded_lr_size(h, h + 3)
    for size, padded in ((h, hp), (h + 3, wp)):
        fits = [n for n in range(size, size + 2 * STRIDE) if (n - PATCH) % STRIDE == 0]  # last patch ends on the edge
        assert padded == fits[0]


@pytest.mark.parametrize("h, w", [(8, 8), (9, 8), (12, 17), (27, 20), (55, 128)])
def test_the_grid_covers_every_pixel_of_the_padded_image(h, w):
    hp, wp = padded_lr_size(h, w)
    rows, cols = patch_grid(hp, wp)
    assert (rows - 1) * STRIDE + PATCH == hp and (cols - 1) * STRIDE + PATCH == wp
    count = _coverage(hp, wp)
    assert count.min() >= 1
    # away from the edges every pixel lies in (PATCH / STRIDE)^2 = 16 patches
    if hp >= 2 * PATCH and wp >= 2 * PATCH:
        assert (count[PATCH:-PATCH, PATCH:-PATCH] == (PATCH // STRIDE) ** 2).all()


def test_patch_grid_counts():
    assert patch_grid(8, 8) == (1, 1)
    assert patch_grid(10, 14) == (2, 4)
    assert patch_grid(56, 128) == (25, 61)


def test_patch_origins_are_row_major_at_stride_2():
    tops = patch_origins(range(1, 3), 4)
    assert tops.shape == (8, 2) and tops.dtype == torch.long
    assert tops.tolist() == [[2, 0], [2, 2], [2, 4], [2, 6], [4, 0], [4, 2], [4, 4], [4, 6]]


def test_gather_equals_slicing():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(5, 30, 41, generator=g)
    tops = torch.tensor([[0, 0], [3, 7], [22, 33], [10, 1]])
    crops = gather(image, tops, 8)
    assert crops.shape == (4, 5, 8, 8)
    for crop, (y, x) in zip(crops, tops.tolist()):
        assert torch.equal(crop, image[:, y : y + 8, x : x + 8])


def test_patch_centers_are_the_footprint_centres():
    tops = torch.tensor([[0, 0], [2, 4], [10, 6]])
    assert patch_centers(tops).tolist() == [[32, 32], [48, 64], [112, 80]]  # 8 * top + 32
    assert patch_centers(tops, 4).tolist() == [[16, 16], [24, 32], [56, 40]]


def test_reference_patches_are_centred_on_the_match():
    g = torch.Generator().manual_seed(3)
    ref = torch.rand(3, 100, 120, generator=g)
    matches = torch.tensor([[50, 60], [32, 32], [67, 87]])  # whole crops inside the image
    crops = reference_patches(ref, matches, K)
    assert crops.shape == (3, 3, K, K)
    for crop, (y, x) in zip(crops, matches.tolist()):
        assert torch.equal(crop, ref[:, y - K // 2 : y + K // 2, x - K // 2 : x + K // 2])
        assert torch.equal(crop[:, K // 2, K // 2], ref[:, y, x])


def test_reference_patches_replicate_the_edge():
    g = torch.Generator().manual_seed(4)
    ref = torch.rand(3, 40, 50, generator=g)
    crop = reference_patches(ref, torch.tensor([[0, 49]]), K)[0]
    assert torch.equal(crop[:, K // 2 :, : K // 2], ref[:, :32, 17:49])  # the part inside the image
    assert (crop[:, : K // 2] == crop[:, K // 2 : K // 2 + 1]).all()  # rows above repeat the top row
    assert (crop[:, :, K // 2 :] == crop[:, :, K // 2 : K // 2 + 1]).all()  # columns right repeat column 49


def test_matching_each_footprint_centre_to_itself_gives_the_footprints():
    h, w = 10, 12
    rows, cols = patch_grid(h, w)
    g = torch.Generator().manual_seed(5)
    hr = torch.rand(3, h * SCALE, w * SCALE, generator=g)
    tops = patch_origins(range(rows), cols)
    torch.testing.assert_close(reference_patches(hr, patch_centers(tops), K), gather(hr, tops * SCALE, K))


def test_fold_band_shape():
    rows, cols, c = 3, 5, 2
    band = fold_band(torch.zeros(rows * cols, c, K, K), cols, SCALE)
    step = STRIDE * SCALE
    assert band.shape == (c, K + step * (rows - 1), K + step * (cols - 1))


@pytest.mark.parametrize("h, w", [(8, 8), (12, 16), (20, 14)])
def test_fold_band_of_ones_counts_the_overlaps(h, w):
    rows, cols = patch_grid(h, w)
    counts = fold_band(torch.ones(rows * cols, 1, K, K), cols, SCALE)[0]
    assert counts.shape == (h * SCALE, w * SCALE)
    # each LR pixel's 8x8 HR block is in as many patches as the LR pixel
    expected = np.kron(_coverage(h, w), np.ones((SCALE, SCALE), int))
    np.testing.assert_array_equal(counts.numpy(), expected)


def test_fold_band_sums_each_patch_where_it_belongs():
    rows, cols = 2, 3
    patches = torch.zeros(rows * cols, 1, K, K)
    patches[4] = 1.0  # row 1, column 1
    band = fold_band(patches, cols, SCALE)[0]
    step = STRIDE * SCALE
    y0, x0 = 1 * step, 1 * step
    assert band[y0 : y0 + K, x0 : x0 + K].eq(1).all()
    assert band.sum() == K * K


def test_gather_then_fold_averages_back_to_the_image():
    h, w = 12, 18  # LR size, already on the grid
    rows, cols = patch_grid(h, w)
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(3, h * SCALE, w * SCALE, generator=g)
    tops = patch_origins(range(rows), cols)
    patches = gather(hr, tops * SCALE, K)
    total = fold_band(patches, cols, SCALE)
    count = fold_band(torch.ones_like(patches[:, :1]), cols, SCALE)
    torch.testing.assert_close(total / count, hr)


def test_bands_of_rows_add_up_to_the_whole():
    h, w = 14, 12
    rows, cols = patch_grid(h, w)
    g = torch.Generator().manual_seed(2)
    patches = torch.rand(rows * cols, 2, K, K, generator=g)
    whole = fold_band(patches, cols, SCALE)
    pieced = torch.zeros_like(whole)
    for r in range(rows):  # one patch row at a time, as synthesis folds them
        band = fold_band(patches[r * cols : (r + 1) * cols], cols, SCALE)
        y0 = r * STRIDE * SCALE
        pieced[:, y0 : y0 + band.shape[1]] += band
    torch.testing.assert_close(pieced, whole)
