"""Cross-scale matchers with one signature: LR input + HR reference -> centres and matches.

The input is brought to HR size by bilinear x8 (docs/method.md "Matching"); "blurry" variants compare against
the reference degraded x8 and upsampled the same way. Each method is a dense feature map per
image plus `window_search`; `ccnet` lets the neighbours of each centre vote (`refsr.matching.vote`),
`ccnet-centre` is CC-Net's own distribution of the centre alone, `zncc-blurry-vote` the same vote on
ZNCC scores (also cosines) to show what the vote alone gives.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import torch

from refsr.correspondence import grid_centers
from refsr.degrade import SCALE, downsample, upsample
from refsr.devices import pick_device
from refsr.matching.search import SEARCH, l2_as_dot, window_search
from refsr.matching.vote import vote_window_search
from refsr.tensors import to_tensor

MATCHERS = ("ccnet", "ccnet-centre", "zncc", "zncc-blurry", "zncc-blurry-vote", "dsift", "dsift-blurry", "gradient")


def blur_reference(ref: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The reference degraded x`scale` and upsampled bilinearly, like the input (crop to a multiple first)."""
    h, w = ref.shape[-2:]
    hc, wc = h - h % scale, w - w % scale
    blurry = upsample(downsample(ref[..., :hc, :wc], scale), scale, "bilinear")
    return torch.nn.functional.pad(blurry, (0, w - wc, 0, h - hc), mode="replicate")


def _feature_fn(method: str, precision: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], bool, str]:
    """(feature function image (1,3,H,W) -> (C,H,W), uses blurry reference, metric 'vote' | 'dot' | 'l2')."""
    from refsr.matching import handcrafted

    if method in ("ccnet", "ccnet-centre"):
        from refsr.matching.ccnet import ccnet_features
        return partial(ccnet_features, precision=precision), False, "vote" if method == "ccnet" else "dot"
    table = {
        "zncc": (handcrafted.zncc_features, False, "dot"),
        "zncc-blurry": (handcrafted.zncc_features, True, "dot"),
        "zncc-blurry-vote": (handcrafted.zncc_features, True, "vote"),  # the vote's share, for Table 2
        "dsift": (handcrafted.dsift_features, False, "l2"),
        "dsift-blurry": (handcrafted.dsift_features, True, "l2"),
        "gradient": (handcrafted.gradient_features, True, "l2"),
    }
    if method not in table:
        raise ValueError(f"unknown matching method {method!r}; choose from {', '.join(MATCHERS)}")
    return table[method]


@torch.no_grad()
def match_tensors(
    lr_up: torch.Tensor, ref: torch.Tensor, centers: torch.Tensor, method: str = "ccnet", search: int = SEARCH,
    precision: str = "auto",
) -> torch.Tensor:
    """Matches (N, 2) long in the reference for centres (N, 2) long of the upsampled input (1,3,H,W).

    `precision` ('fp32' | 'bf16' | 'auto', see refsr.precision) applies to CC-Net; scores stay float32.
    """
    features, blurry, metric = _feature_fn(method, precision)
    feat_in = features(lr_up)
    feat_ref = features(blur_reference(ref) if blurry else ref)
    if metric == "vote":
        return vote_window_search(feat_in, centers, feat_ref, centers, search)
    query = feat_in[:, centers[:, 0], centers[:, 1]].T.contiguous()
    if metric == "l2":
        query, feat_ref = l2_as_dot(query, feat_ref)
    return window_search(query, feat_ref, centers, search)


def match(
    lr: np.ndarray, ref: np.ndarray, method: str = "ccnet", stride: int = SCALE, search: int = SEARCH,
    device: str = "auto", centers: np.ndarray | None = None, scale: int = SCALE, precision: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 LR (h, w, 3) and HR reference -> (centers, matches), each (N, 2) float (y, x) in HR pixels."""
    dev = pick_device(device)
    lr_up = upsample(to_tensor(lr, dev), scale, "bilinear")
    ref_t = to_tensor(ref, dev)
    if centers is None:
        centers = grid_centers(*lr_up.shape[-2:], stride)
    c = torch.as_tensor(np.asarray(centers), dtype=torch.long, device=dev)
    found = match_tensors(lr_up, ref_t, c, method, search, precision)
    return np.asarray(centers, dtype=np.float64), found.cpu().numpy().astype(np.float64)
