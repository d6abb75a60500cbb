"""Portable Float Map (.pfm) files: disparity maps of the HCI and Middlebury benchmarks."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from refsr.errors import InputError
from refsr.io.atomic import atomic_path

# type, width, height, scale, then exactly one whitespace byte before the raster
_HEADER = re.compile(rb"\A(P[Ff])\s+(\d+)\s+(\d+)\s+(\S+)\s")
MAX_SIDE = 100_000


def read_pfm(path: str | Path) -> np.ndarray:
    """Read a PFM as float32 (H, W) for 'Pf' or (H, W, 3) for 'PF', in top-down image orientation.

    Both byte orders are read (scale < 0: little-endian); non-finite values are kept as they are.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(p, "file not found") from None
    except OSError as err:
        raise InputError(p, f"cannot read PFM file ({err.strerror or err})") from None
    match = _HEADER.match(raw[:256])
    if match is None:
        raise InputError(p, "not a PFM file: expected a header 'PF' or 'Pf', width, height, scale")
    kind, width, height = match.group(1), int(match.group(2)), int(match.group(3))
    try:
        scale = float(match.group(4))
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale == 0:
        raise InputError(p, f"invalid PFM scale {match.group(4).decode(errors='replace')!r}")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise InputError(p, f"implausible PFM size {width}x{height}")
    channels = 3 if kind == b"PF" else 1
    expected = width * height * channels * 4
    body = raw[match.end():]
    if len(body) != expected:
        kind_err = "truncated" if len(body) < expected else "oversized"
        raise InputError(p, f"{kind_err} PFM raster: {len(body)} bytes, expected {expected} "
                            f"for {width}x{height}x{channels}")
    data = np.frombuffer(body, "<f4" if scale < 0 else ">f4").reshape(height, width, channels)
    data = np.flipud(data).astype(np.float32)  # PFM rows run bottom-to-top
    return np.ascontiguousarray(data[:, :, 0] if channels == 1 else data)


def write_pfm(path: str | Path, array: np.ndarray) -> None:
    """Write float (H, W) as 'Pf' or (H, W, 3) as 'PF', little-endian, bottom-to-top, atomically."""
    array = np.asarray(array)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or 0 in array.shape:
        raise ValueError(f"expected an array of shape (H, W) or (H, W, 3), got {array.shape}")
    kind = b"Pf" if array.ndim == 2 else b"PF"
    height, width = array.shape[:2]
    header = kind + b"\n%d %d\n-1.0\n" % (width, height)
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + np.ascontiguousarray(np.flipud(array), dtype="<f4").tobytes())
