"""SRResNet (Ledig et al. 2017) for x8: sub-pixel or nearest-neighbour + conv upsampling."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, c: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.PReLU(c),
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetBody(nn.Module):
    """LR (N, 3, h, w) -> features (N, 64, h, w): head, residual blocks, conv-BN and global skip."""

    def __init__(self, channels: int = 64, blocks: int = 16):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU(channels))
        self.blocks = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.tail = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.head(lr - 0.5)
        return x + self.tail(self.blocks(x))


def _up_stage(channels: int, arch: str) -> nn.Sequential:
    if arch == "sub-pixel":
        return nn.Sequential(nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(channels))
    if arch == "nn":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, channels, 3, padding=1),
                             nn.PReLU(channels))
    raise ValueError(f"unknown SRResNet arch {arch!r} (sub-pixel | nn)")


class SRResNet(nn.Module):
    """x8 SRResNet; `arch` = 'sub-pixel' (SRResNet) or 'nn' (SRResNet+NN).

    Reading: the 9x9 RGB conv predicts a residual over bicubic upsampling, which trains far faster
    on our small data and budget than predicting the image from scratch.
    """

    def __init__(self, arch: str = "nn", channels: int = 64, blocks: int = 16, scale: int = 8):
        super().__init__()
        self.arch, self.scale = arch, scale
        self.body = SRResNetBody(channels, blocks)
        stages = {2: 1, 4: 2, 8: 3}.get(scale)
        if stages is None:
            raise ValueError(f"SRResNet scale must be 2, 4 or 8, got {scale}")
        self.up = nn.Sequential(*[_up_stage(channels, arch) for _ in range(stages)])
        self.to_rgb = nn.Conv2d(channels, 3, 9, padding=4)
        nn.init.zeros_(self.to_rgb.weight)  # start as bicubic; learn the residual
        nn.init.zeros_(self.to_rgb.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.to_rgb(self.up(self.body(lr)))
