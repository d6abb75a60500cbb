"""Hand-crafted dense features for the matching baselines of the paper's Table 2.

Each function maps an image (1, 3, H, W) float in [0, 1] to a dense feature map (C, H, W) on the
image's device, so that feature (:, y, x) describes the neighbourhood of pixel (y, x). Matching is
relative (input and reference go through the same function), so a constant sub-pixel offset of
every descriptor (dense SIFT's even cell grid) cancels; only the output size must equal the input.
`refsr.matching._feature_fn` pairs each with its metric: ZNCC by dot product, the others by L2.
"""
from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F

ZNCC_SIZE = 17  # reading (docs/method.md "Matching"; the paper gives no size): 17x17 grey patches
# reading: 4x4 cells of 8 px (32 px extent), the better of the cell sizes tried (bench/results/design_notes.md)
SIFT_BIN_SIZE = 8
# reading of Chang et al.'s patch at HR size: 9x9 samples 2 px apart (17x17 support, like ZNCC) x 4 maps = 324
# channels; it matches better than a dense 9x9 at the same memory (bench/results/design_notes.md)
GRADIENT_SIZE = 9
GRADIENT_STEP = 2


def _grey(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) RGB -> (1, 1, H, W) luminance (ITU-R 601 weights, kornia)."""
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image (1, C, H, W), got {tuple(image.shape)}")
    if image.shape[1] == 1:
        return image.float()
    return kornia.color.rgb_to_grayscale(image.float())


def _patches(plane: torch.Tensor, size: int, step: int = 1) -> torch.Tensor:
    """(1, K, H, W) -> (K * size * size, H, W): size x size samples `step` px apart around every pixel.

    Borders are reflect-padded (replicate when the image is smaller than the padding).
    """
    _, k, h, w = plane.shape
    r = (size // 2) * step
    mode = "reflect" if r < min(h, w) else "replicate"
    padded = F.pad(plane, (r, r, r, r), mode=mode)
    return F.unfold(padded, size, dilation=step).reshape(k * size * size, h, w)


def zncc_features(image: torch.Tensor, size: int = ZNCC_SIZE, eps: float = 1e-6, step: int = 1) -> torch.Tensor:
    """(size*size, H, W): zero-mean, unit-norm grey patches; <f1, f2> is their ZNCC (flat patch -> 0).

    `step` > 1 samples the patch sparsely (size x size samples over (size-1)*step+1 px).
    """
    if size % 2 != 1:
        raise ValueError(f"ZNCC patch size must be odd, got {size}")
    feat = _patches(_grey(image), size, step)
    feat = feat - feat.mean(dim=0, keepdim=True)
    norm = feat.norm(dim=0, keepdim=True).clamp_min(eps)
    return feat.div_(norm)


def dsift_features(image: torch.Tensor, bin_size: int = SIFT_BIN_SIZE) -> torch.Tensor:
    """(128, H, W) dense SIFT (kornia, 8 angles x 4x4 cells of `bin_size` px, RootSIFT).

    A 4x4 cell grid has its centre between pixels: kornia's output j describes input position
    j - padding + 3 * bin_size / 2 - e / 2 (e = 1 for an even bin size). We pad so that output j
    describes j - 1/2 for every j in [0, W) (the same half-pixel offset in both images).
    """
    grey = _grey(image)
    h, w = grey.shape[-2:]
    e = 1 if bin_size % 2 == 0 else 0
    # centre offset (3 * bin_size - e) / 2 is an odd multiple of 1/2; pad = offset + 1/2 -> centre j - 1/2
    pad = (3 * bin_size - e + 1) // 2
    sift = kornia.feature.DenseSIFTDescriptor(
        num_ang_bins=8, num_spatial_bins=4, spatial_bin_size=bin_size, padding=pad,
    ).to(grey.device)
    out = sift(grey)[0]  # (128, h + 1, w + 1) for this padding
    return out[:, :h, :w].contiguous()


_F1 = (-1.0, 0.0, 1.0)
_F2 = (1.0, 0.0, -2.0, 0.0, 1.0)


def gradient_features(image: torch.Tensor, size: int = GRADIENT_SIZE, step: int = GRADIENT_STEP) -> torch.Tensor:
    """(4 * size*size, H, W): Chang, Yeung & Xiong 2004's luminance gradients over a size x size patch.

    Per pixel: gx, gy by [-1, 0, 1] and gxx, gyy by [1, 0, -2, 0, 1] (and their transposes), the
    filters of the neighbour-embedding SR paper, then concatenated over the patch around the pixel.
    """
    grey = _grey(image)
    dev = grey.device
    f1 = torch.tensor(_F1, device=dev)
    f2 = torch.tensor(_F2, device=dev)
    kernels = torch.zeros(4, 1, 5, 5, device=dev)
    kernels[0, 0, 2, 1:4] = f1  # d/dx
    kernels[1, 0, 1:4, 2] = f1  # d/dy
    kernels[2, 0, 2, :] = f2  # d2/dx2
    kernels[3, 0, :, 2] = f2  # d2/dy2
    padded = F.pad(grey, (2, 2, 2, 2), mode="replicate")
    grads = F.conv2d(padded, kernels)  # (1, 4, H, W)
    return _patches(grads, size, step)
