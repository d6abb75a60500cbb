"""Flow-warp baseline: OpenCV optical flow from the upsampled input to the equally blurred reference,
warp the sharp reference, blend with bicubic where the warp disagrees with the LR input.
"""
from __future__ import annotations

import cv2
import kornia
import numpy as np
import torch
from tqdm.auto import tqdm

from refsr.degrade import SCALE, downsample, upsample
from refsr.tensors import to_image, to_tensor

ALGORITHMS = ("dis", "farneback")
CONFIDENCE_SCALE = 0.04  # LR error (in [0, 1] units) at which confidence falls to exp(-1)


def dense_flow(source: np.ndarray, target: np.ndarray, algorithm: str = "dis") -> np.ndarray:
    """Flow (H, W, 2) = (dx, dy) such that source(x) ~ target(x + flow(x)); uint8 RGB inputs."""
    a = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    if algorithm == "dis":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)
    if algorithm == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 21, 5, 7, 1.5, 0)
    raise ValueError(f"unknown flow algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at x + flow(x) (bilinear, border replicated)."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _fit(ref: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The reference cropped or edge-padded to the target's HR size."""
    h, w = shape
    ref = ref[:h, :w]
    return np.pad(ref, ((0, h - ref.shape[0]), (0, w - ref.shape[1]), (0, 0)), mode="edge")


@torch.no_grad()
def flow_warp_super_resolve(lr: torch.Tensor, ref: torch.Tensor, algorithm: str = "dis",
                            scale: int = SCALE, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Super-resolve float LR x`scale` by warping the reference along the flow from the upsampled input.

    Args:
        lr: the LR input (1, 3, h, w) in [0, 1].
        ref: the HR reference (1, 3, H, W) in [0, 1], cropped or edge-padded to (8h, 8w).
        algorithm: the OpenCV flow, one of ALGORITHMS.
        scale: the SR factor.
        progress: show a progress bar of the stages (blur, flow, warp, blend) on stderr.

    Returns:
        (SR (1, 3, 8h, 8w), confidence (8h, 8w) in [0, 1]).
    """
    h, w = lr.shape[-2:]
    with tqdm(total=4, desc="flow-warp", unit="stage", disable=not progress, leave=False) as bar:
        bicubic = upsample(lr, scale, "bicubic").clamp(0, 1)
        ref_np = _fit(to_image(ref[0]), (h * scale, w * scale))
        ref_t = to_tensor(ref_np, lr.device)
        blurry = upsample(downsample(ref_t, scale), scale, "bicubic").clamp(0, 1)
        bar.update()
        flow = dense_flow(to_image(bicubic[0]), to_image(blurry[0]), algorithm)
        bar.update()
        warped = to_tensor(warp(ref_np, flow), lr.device)
        bar.update()
        result = blend_where_lr_agrees(warped, lr, bicubic, scale)
        bar.update()
    return result


def blend_where_lr_agrees(warped: torch.Tensor, lr: torch.Tensor, fallback: torch.Tensor,
                          scale: int = SCALE) -> tuple[torch.Tensor, torch.Tensor]:
    """Trust a warped reference where, degraded, it agrees with the LR input; elsewhere `fallback`.

    Args:
        warped: (1, 3, 8h, 8w) the reference warped onto the target.
        lr: (1, 3, h, w) the LR input.
        fallback: (1, 3, 8h, 8w) e.g. bicubic.

    Returns:
        (SR (1, 3, 8h, 8w), confidence (8h, 8w) in [0, 1]).
    """
    error = (downsample(warped, scale) - lr).abs().mean(1, keepdim=True)
    confidence = torch.exp(-(error / CONFIDENCE_SCALE) ** 2)
    confidence = kornia.filters.gaussian_blur2d(upsample(confidence, scale, "bilinear"), (25, 25), (4.0, 4.0))
    confidence = confidence.clamp(0, 1)
    return confidence * warped + (1 - confidence) * fallback, confidence[0, 0]
