"""The fixed x8 degradation (docs/method.md "Degradation") and the up-samplers used by the baselines."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from refsr.errors import InputError
from refsr.tensors import to_image, to_tensor

SCALE = 8


def crop_to_multiple(hr: np.ndarray, scale: int = SCALE, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Crop an HR image (from `offset`, top-left anchored) to a multiple of `scale`: the PSNR ground truth."""
    i, j = offset
    hr = hr[i:, j:]
    h, w = hr.shape[:2]
    if h < scale or w < scale:
        raise InputError("<image>", f"image of {w}x{h} is smaller than one {scale}x{scale} block")
    return hr[: h - h % scale, : w - w % scale]


def downsample(x: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """Antialiased bicubic shrink of a float NCHW tensor whose size is a multiple of `scale`, clamped."""
    h, w = x.shape[-2:]
    y = F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return y.clamp_(0, 1)


def degrade(hr: np.ndarray, scale: int = SCALE, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """uint8 HR (H, W, 3) -> uint8 LR (H//scale, W//scale, 3) exactly as docs/method.md "Degradation" fixes it."""
    hr = crop_to_multiple(hr, scale, offset)
    return to_image(downsample(to_tensor(hr), scale)[0])


def upsample(lr: torch.Tensor, scale: int = SCALE, mode: str = "bicubic") -> torch.Tensor:
    """Float NCHW LR -> HR size by `bicubic` (baseline) or `bilinear` (CC-Net input); no antialias."""
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"unknown upsampling mode {mode!r}")
    return F.interpolate(lr, scale_factor=scale, mode=mode, align_corners=False)


def upsample_image(lr: np.ndarray, scale: int = SCALE, mode: str = "bicubic") -> np.ndarray:
    """uint8 LR (h, w, 3) -> uint8 (h*scale, w*scale, 3)."""
    return to_image(upsample(to_tensor(lr), scale, mode)[0])
