"""CC-Net features for matching: the shipped network, run once per image (fully convolutional).

`refsr.matching.match_tensors` pairs these with the inner-product metric (docs/method.md "CC-Net inference").
"""
from __future__ import annotations

import torch

from refsr.shipped import load
from refsr.precision import autocast, channels_last, use_bf16


@torch.no_grad()
def ccnet_features(image: torch.Tensor, precision: str = "auto") -> torch.Tensor:
    """(1, 3, H, W) float in [0, 1] -> (256, H, W) float32 CC-Net features on the image's device.

    The result is channels_last (pixel-major), the layout `window_search` reads without a copy.
    """
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected one RGB image (1, 3, H, W), got {tuple(image.shape)}")
    model, x = channels_last(load("ccnet", image.device), image.float())
    with autocast(image.device, use_bf16(precision, image.device)):
        return model(x)[0].float()
