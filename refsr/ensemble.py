"""Test-time self-ensemble: a method run on the input pair and on its mirror image, the results averaged.

Mirroring the input and the reference together (left-right) keeps every correspondence, so a method
gives a second estimate whose errors differ from the first one's; their mean removes part of both.
It costs a second run.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from refsr.degrade import SCALE

Result = tuple[torch.Tensor, torch.Tensor | None]  # a method's (SR (1, 3, 8h, 8w), confidence (8h, 8w) or None)


def mirrored_reference(ref: torch.Tensor, width: int) -> torch.Tensor:
    """The reference mirrored about the output's vertical axis: cropped or edge-padded to `width`, then flipped.

    Args:
        ref: (1, 3, H, W') HR reference.
        width: the output width 8w; reference column x becomes width - 1 - x, as the input's do.

    Returns:
        (1, 3, H, width).
    """
    ref = ref[..., :width]
    if ref.shape[-1] < width:
        ref = F.pad(ref, (0, width - ref.shape[-1], 0, 0), mode="replicate")
    return ref.flip(-1)


def flip_ensemble(run: Callable[[torch.Tensor, torch.Tensor], Result], lr: torch.Tensor, ref: torch.Tensor,
                  scale: int = SCALE) -> Result:
    """The mean of `run(lr, ref)` and the mirrored `run` of the mirrored pair.

    Args:
        run: a method, (lr (1, 3, h, w), ref (1, 3, H, W)) -> (SR (1, 3, 8h, 8w), confidence (8h, 8w) or None).
        lr: (1, 3, h, w) LR input in [0, 1].
        ref: (1, 3, H, W) HR reference in [0, 1]; the mirrored run sees it cropped or padded to 8w columns
            (`mirrored_reference`).
        scale: the SR factor.

    Returns:
        (SR (1, 3, 8h, 8w), confidence (8h, 8w) or None), each the mean over the two runs.
    """
    if lr.dim() != 4 or ref.dim() != 4:
        raise ValueError(f"expected (1, 3, h, w) and (1, 3, H, W) images, got {tuple(lr.shape)} and {tuple(ref.shape)}")
    sr, confidence = run(lr, ref)
    sr_mirror, confidence_mirror = run(lr.flip(-1), mirrored_reference(ref, lr.shape[-1] * scale))
    sr = (sr + sr_mirror.flip(-1)) / 2
    if confidence is not None:
        confidence = (confidence + confidence_mirror.flip(-1)) / 2
    return sr, confidence
