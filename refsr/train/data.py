"""Training data: real pairs with ground-truth correspondence, synthetic warps, the validation split.

A `Pair` is an HR input (the target), an HR reference and, where known, corresponding pixels.
Views (0,0), (1,1), (3,3), (4,4) of the HCI light field and the Sintel clips in
`VALIDATION_CLIPS` are never used for training: they are the validation split.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refsr.io.images import read_image
from refsr.io.lightfield import HCI_DISPARITY_SIGN, read_hci, read_middlebury
from refsr.io.sintel import list_clips, read_clip

VALIDATION_CLIPS = ("alley_1", "cave_2")
VALIDATION_VIEWS = ((0, 0), (1, 1), (3, 3), (4, 4))
LF_MATCH_PAIR = ((4, 4), (1, 1))  # (input, reference): three views diagonally (method.md)
LF_QUALITY_PAIR = ((3, 3), (0, 0))  # the paper's (3,3) from (0,0)


@dataclass
class Pair:
    name: str
    target: np.ndarray  # uint8 (H, W, 3): the HR input view/frame (degraded for training)
    reference: np.ndarray  # uint8 (H', W', 3)
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in target
    truth: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in reference


def _inside(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (points[:, 0] >= 0) & (points[:, 0] < shape[0]) & (points[:, 1] >= 0) & (points[:, 1] < shape[1])


def flow_correspondence(flow: np.ndarray, masked: np.ndarray | None, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Sintel forward flow t -> t+1: (input pixels q in t+1, reference pixels p in t) on a stride grid of t."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[stride // 2 : h : stride, stride // 2 : w : stride]
    p = np.stack([ys.ravel(), xs.ravel()], 1)
    q = np.rint(p + flow[p[:, 0], p[:, 1]][:, ::-1]).astype(int)
    keep = _inside(q, (h, w)) & np.isfinite(flow[p[:, 0], p[:, 1]]).all(1)
    if masked is not None:
        keep &= ~masked[p[:, 0], p[:, 1]]
    return q[keep], p[keep]


def disparity_correspondence(
    disparity: np.ndarray, centre: tuple[int, int], view_in: tuple[int, int], view_ref: tuple[int, int],
    stride: int, sign: int = HCI_DISPARITY_SIGN,
) -> tuple[np.ndarray, np.ndarray]:
    """Light field: (pixels in view_in, pixels in view_ref) of centre-view grid points, via centre disparity."""
    h, w = disparity.shape
    ys, xs = np.mgrid[stride // 2 : h : stride, stride // 2 : w : stride]
    p = np.stack([ys.ravel(), xs.ravel()], 1).astype(float)
    d = disparity[ys.ravel(), xs.ravel()]
    finite = np.isfinite(d)
    d = np.where(finite, d, 0.0)

    def at(view: tuple[int, int]) -> np.ndarray:
        offset = np.array([view[0] - centre[0], view[1] - centre[1]], float)
        return np.rint(p + sign * d[:, None] * offset).astype(int)

    q_in, q_ref = at(view_in), at(view_ref)
    keep = finite & _inside(q_in, (h, w)) & _inside(q_ref, (h, w))
    return q_in[keep], q_ref[keep]


def sintel_pairs(root: Path, validation: bool, stride: int = 4, with_truth: bool = True) -> list[Pair]:
    """Frame t+1 against frame t for every consecutive pair of the chosen split (all passes)."""
    pairs = []
    for name, info in sorted(list_clips(root).items()):
        if (name in VALIDATION_CLIPS) != validation:
            continue
        for pass_name in sorted(info.passes):
            clip = read_clip(root, name, pass_name)
            index = {n: i for i, n in enumerate(clip.numbers)}
            for t in clip.numbers:
                if t + 1 not in index:
                    continue
                pair = Pair(f"sintel/{pass_name}/{name}/{t + 1}<-{t}", clip.frames[index[t + 1]], clip.frames[index[t]])
                if with_truth and t in clip.flow:
                    masked = None
                    if t in clip.occlusions or t in clip.invalid:
                        masked = clip.occlusions.get(t, False) | clip.invalid.get(t, False)
                    pair.centers, pair.truth = flow_correspondence(clip.flow[t], masked, stride)
                elif with_truth:
                    continue
                pairs.append(pair)
    return pairs


def lightfield_pairs(folder: Path, validation: bool, stride: int = 4, with_truth: bool = True,
                     step: int = 3) -> list[Pair]:
    """HCI pairs: training = views `step` apart diagonally avoiding the validation views; validation = fixed pairs."""
    lf = read_hci(folder)
    u_max, v_max = lf.grid
    if validation:
        combos = [LF_MATCH_PAIR] if with_truth else [LF_QUALITY_PAIR]
    else:
        combos = [((u, v), (u - du, v - dv)) for u in range(u_max) for v in range(v_max)
                  for du, dv in ((step, step), (step, 0), (0, step), (-step, -step))
                  if 0 <= u - du < u_max and 0 <= v - dv < v_max]
        combos = [c for c in combos if not set(c) & set(VALIDATION_VIEWS)]
    pairs = []
    for view_in, view_ref in combos:
        pair = Pair(f"hci/{view_in}<-{view_ref}", lf.views[view_in], lf.views[view_ref])
        if with_truth and lf.disparity is not None:
            pair.centers, pair.truth = disparity_correspondence(lf.disparity, lf.disparity_view, view_in, view_ref, stride)
        pairs.append(pair)
    return pairs


def stereo_pairs(folder: Path, stride: int = 4) -> list[Pair]:
    """Middlebury: left (input) against right (reference), disparity of the left view."""
    lf = read_middlebury(folder)
    pair = Pair("middlebury/left<-right", lf.views[0, 0], lf.views[0, 1])
    pair.centers, pair.truth = disparity_correspondence(lf.disparity, (0, 0), (0, 0), (0, 1), stride, sign=-1)
    return [pair]


def natural_images(data_root: Path) -> list[np.ndarray]:
    """HR images for SISR training: SR benchmarks, training Sintel frames and training light-field views."""
    images = [read_image(p) for p in sorted((data_root / "sr_benchmarks").rglob("*.png"))]
    sintel = data_root / "sintel" / "training"
    for name, info in sorted(list_clips(sintel).items()):
        if name not in VALIDATION_CLIPS:
            for pass_name in info.passes:
                images.extend(read_clip(sintel, name, pass_name).frames)
    lf = read_hci(data_root / "hci" / "antinous")
    for u in range(0, lf.grid[0], 2):
        for v in range(0, lf.grid[1], 2):
            if (u, v) not in VALIDATION_VIEWS and lf.present[u, v]:
                images.append(lf.views[u, v])
    return [im for im in images if min(im.shape[:2]) >= 192]


def training_pairs(data_root: Path, with_truth: bool = True) -> list[Pair]:
    """Every real training pair (with ground-truth correspondences when `with_truth`)."""
    pairs = sintel_pairs(data_root / "sintel" / "training", False, with_truth=with_truth)
    pairs += lightfield_pairs(data_root / "hci" / "antinous", False, with_truth=with_truth)
    if with_truth:
        pairs += stereo_pairs(data_root / "middlebury" / "cones")
    else:
        lf = read_middlebury(data_root / "middlebury" / "cones")
        pairs.append(Pair("middlebury/left<-right", lf.views[0, 0], lf.views[0, 1]))
    return pairs


def validation_pairs(data_root: Path, with_truth: bool = True) -> list[Pair]:
    """The validation split: Sintel VALIDATION_CLIPS (t+1 from t) and the light-field pair."""
    pairs = sintel_pairs(data_root / "sintel" / "training", True, with_truth=with_truth)
    return pairs + lightfield_pairs(data_root / "hci" / "antinous", True, with_truth=with_truth)
