"""SS-Net (docs/method.md "Equation 2 readings"): fuse LR features with a matched HR reference patch, with masks.

Readings of what the paper leaves open, one line each:
- the mask multiplies only the HR reference features (the LR features always pass);
- M^(i) = sig(conv(.)) taken before the ReLU; M_L^(i) = relu(conv(.)) is what is propagated
  (the literal sig(relu(.)) never drops below 0.5, so it could never switch a reference off);
- delta is PReLU; F^(i+1) means F_fuse^(i+1); masks have as many channels as the HR features;
- F_fuse^(0) becomes RGB by a 3x3 conv added as a residual to the bicubic upsampled LR patch;
- HR encoder widths 16/32/64/64 at 64/32/16/8 px (the paper gives none; this keeps a patch cheap).
Beyond the paper: the reference patch's detail (the patch minus its own x8 degraded-and-upsampled
version, what the LR input cannot see) is added to the output under a learned per-pixel gate, so
copying well-matched detail is one gate away instead of a mapping to learn, after re-sampling the
patch along a learned per-pixel offset of at most MAX_OFFSET px, since one match per patch cannot
follow motion that varies across it; the offset is kept only for patches it brings closer to the
input where the input can judge, at low resolution (`lowpass_mismatch`, also returned for fusion;
docs/method.md "Alignment check").
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from refsr.degrade import SCALE, downsample, upsample

LR_CHANNELS = 64
HR_CHANNELS = (16, 32, 64, 64)  # F_HR^(0..3) at 64, 32, 16, 8 px
MAX_OFFSET = 4.0  # HR px: how far the learned alignment may move a reference pixel


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


def reference_lowpass(ref: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """What the LR input can see of a reference patch: the patch x`scale` degraded, then upsampled as the input is.

    Args:
        ref: (N, 3, S, S) reference patches in [0, 1], S a multiple of `scale`.

    Returns:
        (N, 3, S, S).
    """
    return upsample(downsample(ref, scale), scale, "bicubic")


def reference_detail(ref: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """What the LR input cannot see of a reference patch: the patch minus its `reference_lowpass`.

    Args:
        ref: (N, 3, S, S) reference patches in [0, 1], S a multiple of `scale`.

    Returns:
        (N, 3, S, S) zero-mean detail.
    """
    return ref - reference_lowpass(ref, scale)


def lowpass_mismatch(lowpass: torch.Tensor, bicubic: torch.Tensor, margin: int = SCALE) -> torch.Tensor:
    """Where a reference patch disagrees with the input: the squared difference between its lowpass and the
    upsampled input patch, per pixel, each patch's mean difference (a brightness change) removed.

    The outer `margin` px, where the patch's own degradation sees past its edge, repeat the nearest inner ones.

    Args:
        lowpass: (N, 3, S, S) `reference_lowpass` of reference patches.
        bicubic: (N, 3, S, S) the bicubic upsampled input patches.

    Returns:
        (N, 1, S, S) the channel mean.
    """
    d = (lowpass - bicubic)[..., margin:-margin, margin:-margin]
    inner = (d - d.mean((-2, -1), keepdim=True)).square().mean(1, keepdim=True)
    return F.pad(inner, (margin,) * 4, mode="replicate")


def _inner_mean(mismatch: torch.Tensor, margin: int = SCALE) -> torch.Tensor:
    """(N, 1, S, S) `lowpass_mismatch` -> (N,) its mean over the pixels it measured (not the repeated border)."""
    return mismatch[..., margin:-margin, margin:-margin].mean((1, 2, 3))


def shift_pixels(image: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Sample `image` at each pixel + `offset` (bicubic, edges replicated).

    Args:
        image: (N, C, H, W).
        offset: (N, 2, H, W) (dy, dx) in pixels.

    Returns:
        (N, C, H, W).
    """
    n, _, h, w = image.shape
    ys = torch.arange(h, device=image.device, dtype=offset.dtype)
    xs = torch.arange(w, device=image.device, dtype=offset.dtype)
    gy = (2 * (ys[:, None] + offset[:, 0]) + 1) / h - 1
    gx = (2 * (xs[None, :] + offset[:, 1]) + 1) / w - 1
    return F.grid_sample(image, torch.stack([gx, gy], -1), mode="bicubic", padding_mode="border", align_corners=False)


class HREncoder(nn.Module):
    """64x64 RGB reference patch -> [F0 (64 px), F1 (32), F2 (16), F3 (8)]."""

    def __init__(self, widths: tuple[int, ...] = HR_CHANNELS):
        super().__init__()
        self.stem = nn.Sequential(_conv(3, widths[0]), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(
            nn.Sequential(_conv(widths[i], widths[i + 1]), nn.ReLU(inplace=True), nn.MaxPool2d(2))
            for i in range(len(widths) - 1)
        )

    def forward(self, ref: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(ref - 0.5)]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats


class FusionScale(nn.Module):
    """One scale of equation (2): mask from (upsampled fused, HR, previous mask logits), then fuse."""

    def __init__(self, c_prev: int, c_hr: int, c_mask_prev: int, c_out: int, first: bool):
        super().__init__()
        self.first = first
        if first:
            c_mask_in = c_prev + c_hr
        else:
            self.sp = nn.Sequential(nn.Conv2d(c_prev, 4 * c_prev, 3, padding=1), nn.PixelShuffle(2))
            c_mask_in = c_prev + c_hr + c_mask_prev
        self.mask = _conv(c_mask_in, c_hr)
        self.fuse = nn.Sequential(_conv(c_prev + c_hr, c_out), nn.PReLU(c_out))

    def forward(self, prev: torch.Tensor, hr: torch.Tensor, mask_prev: torch.Tensor | None):
        if self.first:
            logits = self.mask(torch.cat([prev, hr], 1))
            base = prev
        else:
            up = F.interpolate(mask_prev, scale_factor=2, mode="nearest")
            logits = self.mask(torch.cat([self.sp(prev), hr, up], 1))
            base = F.interpolate(prev, scale_factor=2, mode="nearest")
        mask = torch.sigmoid(logits)
        fused = self.fuse(torch.cat([base, hr * mask], 1))
        return fused, torch.relu(logits), mask


class SSNet(nn.Module):
    """(F_LR (N, 64, 8, 8), reference patch (N, 3, 64, 64), bicubic patch (N, 3, 64, 64)) -> (RGB, mask M^(0),
    mismatch (N, 1, 64, 64)).

    RGB = bicubic + to_rgb(F_fuse^(0)) + gate(F_fuse^(0)) * reference_detail(A), A the reference patch
    shifted along offset(F_fuse^(0)), or the patch as matched where its mean `lowpass_mismatch` is lower
    (unless `check_alignment` is off); mismatch = `lowpass_mismatch` of A.
    """

    def __init__(self, lr_channels: int = LR_CHANNELS, widths: tuple[int, ...] = HR_CHANNELS,
                 check_alignment: bool = True):
        super().__init__()
        self.check_alignment = check_alignment
        self.encoder = HREncoder(widths)
        scales = []
        c_prev, c_mask = lr_channels, 0
        for i in reversed(range(len(widths))):
            scales.append(FusionScale(c_prev, widths[i], c_mask, widths[i], first=(i == len(widths) - 1)))
            c_prev, c_mask = widths[i], widths[i]
        self.scales = nn.ModuleList(scales)
        self.to_rgb = _conv(widths[0], 3)
        nn.init.zeros_(self.to_rgb.weight)  # start as the bicubic prediction; learn the residual
        nn.init.zeros_(self.to_rgb.bias)
        self.to_gate = _conv(widths[0], 1)
        nn.init.zeros_(self.to_gate.weight)  # start half open everywhere
        nn.init.zeros_(self.to_gate.bias)
        self.to_offset = _conv(widths[0], 2)
        nn.init.zeros_(self.to_offset.weight)  # start unaligned: the reference patch as matched
        nn.init.zeros_(self.to_offset.bias)

    def without_alignment(self) -> "SSNet":
        """A copy whose offset head is zeroed: the reference patch used as matched (an ablation)."""
        net = copy.deepcopy(self)
        with torch.no_grad():
            for p in net.to_offset.parameters():
                p.zero_()
        return net

    def without_alignment_check(self) -> "SSNet":
        """A copy that takes its learned alignment everywhere, unchecked (an ablation)."""
        net = copy.deepcopy(self)
        net.check_alignment = False
        return net

    def forward(self, f_lr: torch.Tensor, ref: torch.Tensor, bicubic: torch.Tensor):
        hr_feats = self.encoder(ref)
        x, logits, mask = f_lr, None, None
        for scale, hr in zip(self.scales, reversed(hr_feats)):
            x, logits, mask = scale(x, hr, logits)
        gate = torch.sigmoid(self.to_gate(x))
        offset = MAX_OFFSET * torch.tanh(self.to_offset(x).float())
        ref, seen = ref.float(), bicubic.float()
        aligned = shift_pixels(ref, offset)
        low = reference_lowpass(aligned)
        mismatch = lowpass_mismatch(low, seen)
        if self.check_alignment:
            low_matched = reference_lowpass(ref)
            as_matched = lowpass_mismatch(low_matched, seen)
            kept = (_inner_mean(mismatch) < _inner_mean(as_matched))[:, None, None, None]
            aligned, low, mismatch = (torch.where(kept, new, old) for new, old in
                                      ((aligned, ref), (low, low_matched), (mismatch, as_matched)))
        # aligned - low is reference_detail(aligned), its lowpass computed once
        return bicubic + self.to_rgb(x) + gate * (aligned - low), mask, mismatch
