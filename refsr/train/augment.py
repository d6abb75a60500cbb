"""Augmentation for training pairs: symmetries of both images with their points, synthetic warps with exact truth."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from refsr.tensors import to_image, to_tensor
from refsr.datasets import Pair


def rot90_points(points: np.ndarray, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """Pixel (y, x) of an (H, W) image -> its position after np.rot90(image, k)."""
    h, w = shape[:2]
    y, x = points[:, 0], points[:, 1]
    for _ in range(k % 4):
        y, x = w - 1 - x, y
        h, w = w, h
    return np.stack([y, x], 1)


def rot90_pair(pair: Pair, k: int) -> Pair:
    """Rotate target, reference and their correspondences together by k quarter turns."""
    return Pair(
        pair.name, np.ascontiguousarray(np.rot90(pair.target, k)), np.ascontiguousarray(np.rot90(pair.reference, k)),
        rot90_points(pair.centers, k, pair.target.shape), rot90_points(pair.truth, k, pair.reference.shape),
    )


def symmetric_pair(pair: Pair, k: int) -> Pair:
    """One of the 8 symmetries of the square for the whole pair: transposed where k & 4, then k % 4 quarter turns."""
    if k & 4:
        pair = Pair(pair.name, np.ascontiguousarray(pair.target.swapaxes(0, 1)),
                    np.ascontiguousarray(pair.reference.swapaxes(0, 1)),
                    pair.centers[:, ::-1].copy(), pair.truth[:, ::-1].copy())
    return rot90_pair(pair, k % 4)


def synthetic_pair(image: np.ndarray, rng: np.random.Generator, stride: int = 4, max_shift: float = 40.0,
                   amplitude: float = 10.0, occluders: int = 3) -> Pair:
    """Reference = a real image; target = it warped by a smooth random field, photometrically jittered, occluded.

    Target pixel q shows reference pixel q + D(q) exactly; points under occluders are dropped.
    """
    h, w = image.shape[:2]
    coarse = rng.uniform(-amplitude, amplitude, size=(1, 2, 4, 4)) + rng.uniform(-max_shift, max_shift, size=(1, 2, 1, 1))
    field = F.interpolate(torch.as_tensor(coarse, dtype=torch.float32), size=(h, w), mode="bicubic", align_corners=True)[0]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    sy, sx = ys + field[0], xs + field[1]
    grid = torch.stack([sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1], -1)[None]
    warped = F.grid_sample(to_tensor(image), grid, mode="bilinear", padding_mode="border", align_corners=True)
    gain = torch.as_tensor(rng.uniform(0.85, 1.15, size=3), dtype=torch.float32).view(1, 3, 1, 1)
    warped = (warped - 0.5) * rng.uniform(0.8, 1.2) + 0.5 + rng.uniform(-0.08, 0.08)
    target = to_image(warped * gain)[0]
    valid = np.ones((h, w), bool)
    for _ in range(rng.integers(0, occluders + 1)):
        oh, ow = rng.integers(h // 16, h // 4), rng.integers(w // 16, w // 4)
        y0, x0 = rng.integers(0, h - oh), rng.integers(0, w - ow)
        target[y0 : y0 + oh, x0 : x0 + ow] = rng.integers(0, 256, size=3, dtype=np.uint8)
        valid[max(y0 - 4, 0) : y0 + oh + 4, max(x0 - 4, 0) : x0 + ow + 4] = False
    gy, gx = np.mgrid[stride // 2 : h : stride, stride // 2 : w : stride]
    q = np.stack([gy.ravel(), gx.ravel()], 1)
    p = np.rint(np.stack([sy.numpy()[q[:, 0], q[:, 1]], sx.numpy()[q[:, 0], q[:, 1]]], 1)).astype(int)
    keep = valid[q[:, 0], q[:, 1]] & (p[:, 0] >= 0) & (p[:, 0] < h) & (p[:, 1] >= 0) & (p[:, 1] < w)
    return Pair("synthetic", target, image, q[keep], p[keep])
