"""The data refsr learns from and is measured on: where it lives, its split, its pairs.

Trainers, benchmarks and tests all take the data root, the validation split and the validation
pairs from here.

A `Pair` is an HR input (the target), an HR reference and, where known, corresponding pixels.
Views (0,0), (1,1), (3,3), (4,4) of the HCI light field, the Sintel clips in `VALIDATION_CLIPS`
and the Middlebury 2006 scene `STEREO_VALIDATION_SCENE` are never used for training: they are the
validation split.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refsr.io.images import read_image
from refsr.io.lightfield import (HCI_DISPARITY_SIGN, MIDDLEBURY2006_DISPARITY_SCALE, read_hci, read_middlebury,
                                 read_middlebury2006, read_middlebury_disparity)
from refsr.io.sintel import list_clips, read_clip
from refsr.pairs import sintel_correspondence, stereo_correspondence, views_correspondence

# ../shared/data beside the checkout, or $REFSR_DATA: read in place.
DEFAULT_DATA = Path(os.environ.get("REFSR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VALIDATION_CLIPS = ("alley_1", "cave_2")
VALIDATION_VIEWS = ((0, 0), (1, 1), (3, 3), (4, 4))
LF_MATCH_PAIR = ((4, 4), (1, 1))  # (input, reference): three views diagonally (docs/method.md "HCI light field")
LF_QUALITY_PAIR = ((3, 3), (0, 0))  # the paper's (3,3) from (0,0)
STEREO_VALIDATION_SCENE = "Baby1"  # the first Middlebury 2006 scene by name; view1 from view5


@dataclass
class Pair:
    name: str
    target: np.ndarray  # uint8 (H, W, 3): the HR input view/frame (degraded for training)
    reference: np.ndarray  # uint8 (H', W', 3)
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in target
    truth: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in reference


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
                    pair.centers, pair.truth = sintel_correspondence(
                        clip.flow[t], clip.occlusions.get(t), clip.invalid.get(t), stride)
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
            pair.centers, pair.truth = views_correspondence(
                lf.disparity, lf.disparity_view, view_in, view_ref, HCI_DISPARITY_SIGN, stride)
        pairs.append(pair)
    return pairs


def stereo_pairs(folder: Path, stride: int = 4) -> list[Pair]:
    """Middlebury: left (input) against right (reference), disparity of the left view."""
    lf = read_middlebury(folder)
    pair = Pair("middlebury/left<-right", lf.views[0, 0], lf.views[0, 1])
    pair.centers, pair.truth = stereo_correspondence(lf.disparity, stride)
    return [pair]


def middlebury2006_pairs(root: Path, validation: bool, stride: int = 4, with_truth: bool = True) -> list[Pair]:
    """Middlebury 2006 scenes: view1 from view5 (disp1) and, for training, view5 from view1 (disp5).

    The second direction is the mirror image of a left-from-right pair, so one rule
    (`stereo_correspondence`) serves both.
    """
    pairs = []
    for scene in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (scene.name == STEREO_VALIDATION_SCENE) != validation:
            continue
        lf = read_middlebury2006(scene)
        left, right = lf.views[0, 0], lf.views[0, 1]
        directions = [("view1<-view5", left, right, lf.disparity)]
        if not validation:
            disp5 = read_middlebury_disparity(scene / "disp5.png", MIDDLEBURY2006_DISPARITY_SCALE)
            directions.append(("view5<-view1", right[:, ::-1].copy(), left[:, ::-1].copy(), disp5[:, ::-1]))
        for name, target, reference, disparity in directions:
            pair = Pair(f"middlebury2006/{scene.name}/{name}", target, reference)
            if with_truth:
                pair.centers, pair.truth = stereo_correspondence(disparity, stride)
            pairs.append(pair)
    return pairs


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
    return pairs + middlebury2006_pairs(data_root / "middlebury2006", False, with_truth=with_truth)


def validation_pairs(data_root: Path, with_truth: bool = True) -> list[Pair]:
    """The validation split: Sintel VALIDATION_CLIPS (t+1 from t), the light-field pair, the stereo scene."""
    pairs = sintel_pairs(data_root / "sintel" / "training", True, with_truth=with_truth)
    pairs += lightfield_pairs(data_root / "hci" / "antinous", True, with_truth=with_truth)
    return pairs + middlebury2006_pairs(data_root / "middlebury2006", True, with_truth=with_truth)
