"""Report pictures from numpy alone: a U x V PSNR heatmap, PSNR per frame, side-by-side crops."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)


def colour_map(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map floats to a viridis-like uint8 RGB ramp between lo and hi; NaN -> grey."""
    x = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1) * (len(_VIRIDIS) - 1)
    x = np.nan_to_num(x)
    i = np.minimum(np.floor(x).astype(int), len(_VIRIDIS) - 2)
    f = (x - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    rgb[np.isnan(values)] = 96
    return rgb.round().astype(np.uint8)


def heatmap_picture(grid: tuple[int, int], targets: np.ndarray, psnr: np.ndarray, reference: Sequence[int] | None,
                    cell: int = 40) -> np.ndarray:
    """U x V PSNR heatmap (one cell per view, nearest-neighbour upscaled); reference white, others grey."""
    values = np.full(grid, np.nan)
    for (u, v), p in zip(targets, psnr):
        values[u, v] = p
    finite = psnr[np.isfinite(psnr)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-6:  # one value: the middle of the ramp
        lo, hi = lo - 1.0, hi + 1.0
    rgb = colour_map(values, lo, hi)
    if reference is not None:
        rgb[reference[0], reference[1]] = 255
    big = rgb.repeat(cell, 0).repeat(cell, 1)
    big[::cell] = 40
    big[:, ::cell] = 40
    return big


def chart_picture(psnr: np.ndarray, height: int = 160, bar: int | None = None) -> np.ndarray:
    """PSNR per frame as a bar chart (bars scaled between the min - 1 dB and the max)."""
    bar = bar or int(np.clip(480 // max(len(psnr), 1), 4, 40))
    finite = psnr[np.isfinite(psnr)]
    lo, hi = (float(finite.min()) - 1.0, float(finite.max())) if finite.size else (0.0, 1.0)
    out = np.full((height, bar * len(psnr), 3), 255, np.uint8)
    for i, p in enumerate(psnr):
        if np.isfinite(p):
            h = max(1, int(round((p - lo) / max(hi - lo, 1e-9) * (height - 4))))
            out[height - h:, i * bar: (i + 1) * bar - 1] = colour_map(np.array([p]), lo + 1.0, hi)[0]
    return out


def crop_picture(images: Sequence[np.ndarray], size: int = 192, gap: int = 4) -> np.ndarray:
    """The same centre crop of each image, side by side on white."""
    h, w = images[0].shape[:2]
    ch, cw = min(size, h), min(size, w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    out = np.full((ch, len(images) * cw + (len(images) - 1) * gap, 3), 255, np.uint8)
    for i, image in enumerate(images):
        out[:, i * (cw + gap): i * (cw + gap) + cw] = image[y0:y0 + ch, x0:x0 + cw]
    return out
