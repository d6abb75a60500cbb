"""Quality and matching metrics: PSNR (RGB, Y), SSIM, matching accuracy at pixel thresholds."""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

BORDER = 8


def _crop(a: np.ndarray, border: int) -> np.ndarray:
    return a[border:-border, border:-border] if border else a


def _check(sr: np.ndarray, hr: np.ndarray) -> None:
    if sr.shape != hr.shape:
        raise ValueError(f"shapes differ: {sr.shape} vs {hr.shape}")


def luminance(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 Y in [16, 235] of a uint8 RGB image, as float64 (the SR literature's Y)."""
    rgb = image.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def psnr(sr: np.ndarray, hr: np.ndarray, border: int = BORDER) -> float:
    """PSNR in dB over RGB of two uint8 images, `border` pixels cropped on each side."""
    _check(sr, hr)
    diff = _crop(sr, border).astype(np.float64) - _crop(hr, border).astype(np.float64)
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def psnr_y(sr: np.ndarray, hr: np.ndarray, border: int = BORDER) -> float:
    """PSNR in dB on the BT.601 luminance of two uint8 RGB images."""
    _check(sr, hr)
    diff = _crop(luminance(sr), border) - _crop(luminance(hr), border)
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(sr: np.ndarray, hr: np.ndarray, border: int = BORDER) -> float:
    """SSIM (scikit-image, RGB channels averaged) of two uint8 images."""
    _check(sr, hr)
    return float(structural_similarity(_crop(sr, border), _crop(hr, border), channel_axis=-1, data_range=255))


def matching_accuracy(
    matches: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None,
    thresholds: tuple[int, ...] = (0, 1, 2, 4, 5, 6),
) -> dict[int, float]:
    """Share (%) of valid centres whose match lies within t px (Euclidean) of the truth, per t."""
    matches = np.asarray(matches, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    keep = np.ones(len(truth), bool) if valid is None else np.asarray(valid, bool)
    if not keep.any():
        return {t: float("nan") for t in thresholds}
    error = np.linalg.norm(matches[keep] - truth[keep], axis=1)
    return {t: 100.0 * float(np.mean(error <= t + 1e-9)) for t in thresholds}
