"""8-bit RGB image and binary mask files (PNG and whatever imageio reads)."""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from refsr.errors import InputError
from refsr.io.atomic import atomic_path, check_writable

MIN_SIZE = 64
"""Smallest HR side accepted for views and frames: 8 px in LR at x8."""


def _read_array(path: str | Path) -> np.ndarray:
    """Decode one image file with imageio, turning every failure into an InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found" if not p.exists() else "not a file")
    try:
        array = np.asarray(iio.imread(p))
    except Exception as err:  # imageio raises many types (OSError, ValueError, SyntaxError...)
        raise InputError(p, f"cannot decode image ({type(err).__name__}: {err})") from None
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise InputError(p, f"expected a single grayscale or RGB(A) image, got an array of shape {array.shape}")
    return array


def _to_uint8(path: Path, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    raise InputError(path, f"unsupported pixel type {array.dtype} (expected 8- or 16-bit integers)")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as uint8 (H, W, 3): grayscale is replicated, alpha dropped.

    16-bit images are scaled to 8 bits (round(v * 255 / 65535)); float images are rejected.
    """
    p = Path(path)
    array = _to_uint8(p, _read_array(p))
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] in (2, 4):  # gray+alpha or RGBA: drop alpha
        array = array[:, :, :-1]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a binary mask as bool (H, W), True where the value is > 0 (Sintel stores 255).

    For a colour file a pixel is True where any colour channel is > 0 (alpha ignored).
    """
    p = Path(path)
    array = _read_array(p)
    if array.ndim == 3:
        channels = array.shape[2]
        array = array[:, :, : 3 if channels == 4 else 1 if channels == 2 else channels]
        return np.ascontiguousarray((array > 0).any(axis=2))
    return np.ascontiguousarray(array > 0)


def require_min_size(path: str | Path, shape: tuple[int, ...], min_size: int = MIN_SIZE) -> None:
    """Raise InputError unless an image of `shape` is at least `min_size` px on both sides."""
    h, w = shape[:2]
    if h < min_size or w < min_size:
        raise InputError(path, f"image is {w}x{h} px; at least {min_size}x{min_size} is needed "
                               f"({min_size // 8}x{min_size // 8} in LR at x8)")


# Output formats by file extension (lower case) -> imageio's extension and writer options.
OUTPUT_FORMATS = {".png": (".png", {}), ".jpg": (".jpg", {"quality": 95}), ".jpeg": (".jpg", {"quality": 95}),
                  ".tif": (".tif", {}), ".tiff": (".tif", {})}


def check_output_image(path: str | Path) -> None:
    """Raise InputError unless `path` names an image format refsr writes and can be written."""
    check_writable(path)
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(path, f"unknown image format {suffix or '(no extension)'!r}; use one of "
                               f"{', '.join(sorted(OUTPUT_FORMATS))}")


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 (H, W, 3) or (H, W) image atomically, in the format of its extension (OUTPUT_FORMATS)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected uint8 (H, W, 3) or (H, W), got {image.dtype} {image.shape}")
    check_output_image(path)
    extension, options = OUTPUT_FORMATS[Path(path).suffix.lower()]
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=extension, **options)
