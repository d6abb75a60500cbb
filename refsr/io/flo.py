"""Middlebury .flo optical-flow files (as used by MPI-Sintel)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from refsr.errors import InputError
from refsr.io.atomic import atomic_path

FLO_MAGIC = np.float32(202021.25)
MAX_SIDE = 100_000
_HEADER = 12


def read_flo(path: str | Path) -> np.ndarray:
    """Read a .flo file as float32 (H, W, 2): [..., 0] = u = dx, [..., 1] = v = dy (pixels).

    The file must be exactly 12 + W*H*8 bytes and hold only finite values.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            header = f.read(_HEADER)
            if len(header) < _HEADER:
                raise InputError(p, f"truncated .flo header ({len(header)} of {_HEADER} bytes)")
            magic = np.frombuffer(header, "<f4", 1, 0)[0]
            width, height = (int(x) for x in np.frombuffer(header, "<i4", 2, 4))
            if magic != FLO_MAGIC:
                raise InputError(p, f"not a .flo file: magic number {magic!r}, expected 202021.25")
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise InputError(p, f"implausible flow size {width}x{height}")
            expected = _HEADER + width * height * 8
            size = p.stat().st_size
            if size != expected:
                kind = "truncated" if size < expected else "oversized"
                raise InputError(p, f"{kind} .flo file: {size} bytes, expected {expected} for {width}x{height}")
            data = np.fromfile(f, dtype="<f4", count=width * height * 2)
    except FileNotFoundError:
        raise InputError(p, "file not found") from None
    except OSError as err:
        raise InputError(p, f"cannot read .flo file ({err.strerror or err})") from None
    flow = data.reshape(height, width, 2).astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(flow)))
    if bad:
        raise InputError(p, f"{bad} non-finite flow values (NaN or inf)")
    return flow


def write_flo(path: str | Path, flow: np.ndarray) -> None:
    """Write a finite float (H, W, 2) flow (u = dx, v = dy) as a little-endian .flo file, atomically."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] < 1 or flow.shape[1] < 1:
        raise ValueError(f"expected flow of shape (H, W, 2), got {flow.shape}")
    if not np.isfinite(flow).all():
        raise ValueError("flow has non-finite values")
    height, width = flow.shape[:2]
    header = FLO_MAGIC.astype("<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(header + np.ascontiguousarray(flow, dtype="<f4").tobytes())
