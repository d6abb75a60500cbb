"""Conversions between uint8 HxWx3 images (files, store) and float32 NCHW tensors in [0, 1], and from
pixel positions to `grid_sample` coordinates."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor(image: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) or (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1]."""
    array = np.ascontiguousarray(image)
    if array.ndim == 3:
        array = array[None]
    tensor = torch.from_numpy(array).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) or (3, H, W) in [0, 1] -> uint8 (H, W, 3) or (N, H, W, 3), rounded."""
    squeeze = tensor.dim() == 3
    if squeeze:
        tensor = tensor[None]
    array = tensor.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)
    array = array.cpu().numpy()
    return array[0] if squeeze else array


def sampling_grid(ys: torch.Tensor, xs: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Float pixel rows and columns (same shape) of an (h, w) image -> `grid_sample`'s (x, y) in [-1, 1]
    (`align_corners=False`: pixel centres), stacked last."""
    return torch.stack([(2 * xs + 1) / w - 1, (2 * ys + 1) / h - 1], -1)
