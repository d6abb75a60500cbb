"""CC-Net (docs/method.md "CC-Net architecture", the paper's Table 1): siamese dilated 3x3 convs, no stride/pool."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = (16, 32, 64, 64, 64, 128)
DILATIONS = (1, 1, 2, 4, 8, 16)
RECEPTIVE_FIELD = 65
TEMPERATURE = 0.07  # scale of the cosine scores in the softmax over a search window (training and the vote)


class CCNet(nn.Module):
    """(N, 3, H, W) in [0, 1] -> (N, 256, H, W) unit-length per-pixel features; shared by input and reference.

    refsr's reading: the features are L2-normalised, so the paper's inner-product score is a cosine
    similarity (training divides it by a temperature; matching takes its argmax).
    """

    def __init__(self, channels: tuple[int, ...] = CHANNELS, dilations: tuple[int, ...] = DILATIONS, out: int = 256):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c, d in zip(channels, dilations):
            layers += [nn.Conv2d(c_in, c, 3, padding=d, dilation=d, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        layers.append(nn.Conv2d(c_in, out, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x - 0.5).float(), dim=1)
