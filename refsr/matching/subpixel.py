"""Sub-pixel refinement of patch matches by agreement with the LR input.

CC-Net matches whole pixels; a reference patch half a pixel off smears the finest detail that
SS-Net copies. Each patch's match is moved by the sub-pixel shift whose reference footprint,
degraded as the input was (docs/method.md "Degradation"), best agrees with the LR patch, coarse
to fine. Agreement is the zero-mean squared error, so a brightness change between the views does
not pull the shift. The degraded reference is one blur of the whole reference by the x8
antialiased bicubic kernel, sampled bilinearly where a shifted LR pixel centre falls.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from refsr.degrade import SCALE
from refsr.patches import PATCH, patch_centers
from refsr.tensors import sampling_grid

STEPS = (0.5, 0.25, 0.125)  # HR px: each stage tries the 3 x 3 shifts -step, 0, +step around the best so far
CUBIC_A = -0.5  # the antialiased bicubic kernel of torch's interpolate (and PIL)


def _cubic(t: torch.Tensor) -> torch.Tensor:
    t, a = t.abs(), CUBIC_A
    near = (a + 2) * t**3 - (a + 3) * t**2 + 1
    far = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def degradation_blur(ref: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The reference blurred by the degradation's kernel, centred between pixels.

    Args:
        ref: (1, C, H, W) float image.
        scale: the degradation factor.

    Returns:
        (1, C, H, W): at [y, x] the value an LR pixel whose footprint is centred at HR (y + 0.5, x + 0.5)
        would take (edges replicated); `downsample` samples it at (8i + 3, 8j + 3).
    """
    if ref.ndim != 4:
        raise ValueError(f"ref must be (1, C, H, W), got {tuple(ref.shape)}")
    taps = torch.arange(-2 * scale, 2 * scale + 1, device=ref.device, dtype=torch.float32)
    kernel = _cubic((taps - 0.5) / scale)
    kernel = (kernel / kernel.sum()).to(ref.dtype)
    c, r = ref.shape[1], 2 * scale
    x = F.pad(ref, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _sample(image: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (C, *pos.shape[:-1]) of image (1, C, H, W) at float (y, x) pixel positions `pos`."""
    h, w = image.shape[-2:]
    grid = sampling_grid(pos[..., 0], pos[..., 1], h, w)
    out = F.grid_sample(image, grid.reshape(1, -1, 1, 2), mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(image.shape[1], *pos.shape[:-1])


def refine_matches(lr: torch.Tensor, blurred_ref: torch.Tensor, tops: torch.Tensor, matches: torch.Tensor,
                   steps: tuple[float, ...] = STEPS, scale: int = SCALE) -> torch.Tensor:
    """Shift each patch's match to where the degraded reference best agrees with its LR patch.

    Args:
        lr: (1, C, h, w) the LR input, covering every patch.
        blurred_ref: (1, C, H', W') `degradation_blur` of the reference.
        tops: (P, 2) long LR top-left corners of the PATCH x PATCH patches.
        matches: (P, 2) reference pixels (y, x) matched to the patches' HR centres (`patch_centers`).
        steps: HR px of the coarse-to-fine stages; the shift stays within +-sum(steps).

    Returns:
        (P, 2) float32 refined matches.
    """
    if tops.shape != matches.shape or tops.ndim != 2 or tops.shape[1] != 2:
        raise ValueError(f"tops and matches must both be (P, 2), got {tuple(tops.shape)} and {tuple(matches.shape)}")
    ar = torch.arange(PATCH, device=lr.device)
    grid = torch.stack(torch.meshgrid(ar, ar, indexing="ij"), -1)  # (PATCH, PATCH, 2) LR offsets in a patch
    lr_patches = lr[0][:, tops[:, 0, None, None] + grid[..., 0], tops[:, 1, None, None] + grid[..., 1]]
    lr_patches = lr_patches - lr_patches.mean((2, 3), keepdim=True)  # (C, P, PATCH, PATCH)
    # Where each LR pixel's footprint centre falls in the reference, in `degradation_blur`'s indexing.
    first = matches.float() - patch_centers(tops, scale).float() + scale * tops.float() + (scale // 2 - 1)
    where = first[:, None, None, :] + scale * grid.float()  # (P, PATCH, PATCH, 2)
    best = torch.zeros_like(first)
    rows = torch.arange(len(tops), device=lr.device)
    for step in steps:
        o = torch.tensor([-step, 0.0, step], device=lr.device)
        tries = best[:, None] + torch.stack(torch.meshgrid(o, o, indexing="ij"), -1).reshape(1, -1, 2)  # (P, 9, 2)
        seen = _sample(blurred_ref, where[:, None] + tries[:, :, None, None])  # (C, P, 9, PATCH, PATCH)
        seen = seen - seen.mean((3, 4), keepdim=True)
        cost = (seen - lr_patches[:, :, None]).square().sum((0, 3, 4))
        best = tries[rows, cost.argmin(1)]
    return matches.float() + best
