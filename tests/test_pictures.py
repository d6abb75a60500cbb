"""Report pictures: sizes and the cells they colour."""
from __future__ import annotations

import numpy as np

from refsr.pictures import chart_picture, colour_map, crop_picture, heatmap_picture


def test_colour_map_ends_and_nan():
    rgb = colour_map(np.array([0.0, 1.0, np.nan]), 0.0, 1.0)
    assert rgb.dtype == np.uint8 and not (rgb[0] == rgb[1]).all() and (rgb[2] == 96).all()


def test_heatmap_marks_the_reference_and_colours_targets():
    picture = heatmap_picture((3, 3), np.array([[1, 1], [2, 2]]), np.array([30.0, 35.0]), (0, 0), cell=10)
    assert picture.shape == (30, 30, 3)
    assert (picture[5, 5] == 255).all()  # reference cell
    assert not (picture[15, 15] == picture[25, 25]).all()  # two PSNRs, two colours


def test_chart_and_crops_sizes():
    assert chart_picture(np.array([30.0, 31.0, np.nan]), height=50, bar=10).shape == (50, 30, 3)
    images = [np.zeros((100, 80, 3), np.uint8), np.ones((100, 80, 3), np.uint8)]
    assert crop_picture(images, size=64, gap=4).shape == (64, 132, 3)
