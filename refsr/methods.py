"""Super-resolution methods behind `refsr sr`: one entry point, one registry."""
from __future__ import annotations

from typing import Callable

import numpy as np

from refsr.degrade import SCALE, upsample_image


def _bicubic(lr: np.ndarray, ref: np.ndarray, **_: object) -> np.ndarray:
    return upsample_image(lr, SCALE, "bicubic")


# name -> function(lr uint8, ref uint8, *, fusion, device, progress) -> uint8 (8h, 8w, 3)
METHODS: dict[str, Callable[..., np.ndarray]] = {"bicubic": _bicubic}


def super_resolve(lr: np.ndarray, ref: np.ndarray, method: str = "bicubic", *, fusion: str = "mask",
                  device: str = "auto", progress: bool = False) -> np.ndarray:
    """Super-resolve uint8 LR (h, w, 3) with the uint8 HR reference; returns uint8 (8h, 8w, 3)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return METHODS[method](lr, ref, fusion=fusion, device=device, progress=progress)
