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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refsr.degrade import crop_to_multiple
from refsr.io.images import read_image
from refsr.io.lightfield import (HCI_DISPARITY_SIGN, MIDDLEBURY2006_DISPARITY_SCALE, read_hci, read_middlebury,
                                 read_middlebury2006, read_middlebury_disparity)
from refsr.io.sintel import list_clips, read_clip
from refsr.correspondence import (disparity_correspondence, sintel_correspondence, stereo_correspondence,
                                  views_correspondence)

# ../shared/data beside the checkout, or $REFSR_DATA: read in place.
DEFAULT_DATA = Path(os.environ.get("REFSR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VALIDATION_CLIPS = ("alley_1", "cave_2")
VALIDATION_VIEWS = ((0, 0), (1, 1), (3, 3), (4, 4))
LF_MATCH_PAIR = ((4, 4), (1, 1))  # (input, reference): three views diagonally (docs/method.md "HCI light field")
LF_QUALITY_PAIR = ((3, 3), (0, 0))  # the paper's (3,3) from (0,0)
STEREO_VALIDATION_SCENE = "Baby1"  # the first Middlebury 2006 scene by name
STEREO_DIRECTION = "view1<-view5"  # the held-out scene's pair: view1 from view5 (training adds the mirror)
VALIDATION_SETS = ("sintel", "lightfield", "stereo")
# Where each data set lies under the data root.
SINTEL = Path("sintel") / "training"
HCI = Path("hci") / "antinous"
MIDDLEBURY = Path("middlebury") / "cones"
MIDDLEBURY2006 = Path("middlebury2006")
SR_BENCHMARKS = Path("sr_benchmarks")  # Set5/, Set14/


@dataclass
class Pair:
    name: str
    target: np.ndarray  # uint8 (H, W, 3): the HR input view/frame (degraded for training)
    reference: np.ndarray  # uint8 (H', W', 3)
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in target
    truth: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))  # (N, 2) pixels in reference

    @property
    def dataset(self) -> str:
        """Where the pair comes from, named as in VALIDATION_SETS: "sintel", "lightfield" or "stereo"
        (else the name's first part, e.g. "synthetic")."""
        return _dataset_of(self.name)

    @property
    def render_pass(self) -> str | None:
        """The Sintel render pass ("clean", "final") of a Sintel pair, else None."""
        return _sintel_parts(self.name)[0] if self.dataset == "sintel" else None

    @property
    def group(self) -> str:
        """The set benchmark tables report the pair in: "Sintel <pass>", "Light field" or "Stereo"."""
        if self.dataset == "sintel":
            return f"Sintel {self.render_pass}"
        return {"lightfield": "Light field", "stereo": "Stereo"}.get(self.dataset, self.dataset)


def _dataset_of(name: str) -> str:
    source = name.split("/", 1)[0]
    return {"hci": "lightfield", "middlebury": "stereo", "middlebury2006": "stereo"}.get(source, source)


def sintel_pair_name(pass_name: str, clip: str, t: int) -> str:
    """The name of the pair frame t+1 from frame t: "sintel/<pass>/<clip>/<t+1><-<t>"."""
    return f"sintel/{pass_name}/{clip}/{t + 1}<-{t}"


def _sintel_parts(name: str) -> tuple[str, str, int]:
    """(pass, clip, t) of a `sintel_pair_name`."""
    _, pass_name, clip, frames = name.split("/")
    return pass_name, clip, int(frames.split("<-")[1])


def stereo_pair_name(scene: str, direction: str = STEREO_DIRECTION) -> str:
    """The name of a Middlebury 2006 pair: "middlebury2006/<scene>/<direction>"."""
    return f"middlebury2006/{scene}/{direction}"


def lightfield_pair_name(view_in: tuple[int, int], view_ref: tuple[int, int]) -> str:
    """The name of the HCI pair view `view_in` from view `view_ref`: "hci/(u, v)<-(u', v')"."""
    return f"hci/{tuple(view_in)}<-{tuple(view_ref)}"


def _keep_covered(pair: Pair, scale: int) -> None:
    """Drop the points of `pair` whose centre lies outside its target cropped to a multiple of `scale`."""
    h, w = crop_to_multiple(pair.target, scale).shape[:2]
    inside = (pair.centers[:, 0] < h) & (pair.centers[:, 1] < w)
    pair.centers, pair.truth = pair.centers[inside], pair.truth[inside]


def sintel_pairs(root: Path, validation: bool, stride: int = 4, with_truth: bool = True,
                 passes: Sequence[str] | None = None, require_masks: bool = False, scale: int | None = None,
                 skipped: list[str] | None = None) -> list[Pair]:
    """Frame t+1 against frame t for every consecutive pair of the chosen split, clip by clip, pass by pass.

    `with_truth` keeps only the pairs whose flow t -> t+1 is on disk. `passes` are taken in the
    order given (default: every pass of the clip, sorted). `require_masks` also drops pairs lacking
    the occlusion or the invalid mask of frame t (their bad points cannot be excluded). With `scale`,
    centres lie inside frame t+1 cropped to a multiple of `scale` (what its x`scale` LR covers).
    `skipped`, if given, gets a note for every asked clip or pass not on disk and every pair with
    flow left out for a missing frame t+1 or missing masks.
    """
    notes = [] if skipped is None else skipped
    clips = list_clips(root)
    names = sorted(VALIDATION_CLIPS) if validation else [name for name in clips if name not in VALIDATION_CLIPS]
    pairs = []
    for name in names:
        info = clips.get(name)
        if info is None and passes is None:
            notes.append(f"sintel/{name}: not on disk")
            continue
        for pass_name in sorted(info.passes) if passes is None else passes:
            if info is None or pass_name not in info.passes:
                notes.append(f"sintel/{pass_name}/{name}: not on disk")
                continue
            clip = read_clip(root, name, pass_name)
            index = {n: i for i, n in enumerate(clip.numbers)}
            for t in clip.numbers:
                label = sintel_pair_name(pass_name, name, t)
                if t + 1 not in index:
                    if with_truth and t in clip.flow:
                        notes.append(f"{label}: frame missing")
                    continue
                pair = Pair(label, clip.frames[index[t + 1]], clip.frames[index[t]])
                if with_truth:
                    if t not in clip.flow:
                        continue
                    if require_masks and (t not in clip.occlusions or t not in clip.invalid):
                        notes.append(f"{label}: no occlusion/invalid masks")
                        continue
                    pair.centers, pair.truth = sintel_correspondence(
                        clip.flow[t], clip.occlusions.get(t), clip.invalid.get(t), stride,
                        input_shape=None if scale is None else crop_to_multiple(pair.target, scale).shape[:2])
                pairs.append(pair)
    return pairs


def lightfield_pairs(folder: Path, validation: bool, stride: int = 4, with_truth: bool = True,
                     step: int = 3, forward_backward: bool = False, scale: int | None = None) -> list[Pair]:
    """HCI pairs: training = views `step` apart diagonally avoiding the validation views; validation = fixed pairs.

    Correspondences come from `views_correspondence`; with `forward_backward` (for an input view that
    is the disparity's own view, as in LF_MATCH_PAIR) from `disparity_correspondence`, which also drops
    points failing the forward-backward check (docs/method.md "HCI light field"). With `scale`,
    centres lie inside the input view cropped to a multiple of `scale`.
    """
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
        pair = Pair(lightfield_pair_name(view_in, view_ref), lf.views[view_in], lf.views[view_ref])
        if with_truth and lf.disparity is not None:
            if not forward_backward:
                pair.centers, pair.truth = views_correspondence(
                    lf.disparity, lf.disparity_view, view_in, view_ref, HCI_DISPARITY_SIGN, stride)
            elif tuple(lf.disparity_view) == tuple(view_in):
                pair.centers, pair.truth = disparity_correspondence(
                    lf.disparity, view_ref, view_in, HCI_DISPARITY_SIGN, stride)
            else:
                raise ValueError(f"{pair.name}: the forward-backward check needs the input view to be "
                                 f"the disparity's view {lf.disparity_view}")
            if scale is not None:
                _keep_covered(pair, scale)
        pairs.append(pair)
    return pairs


def stereo_pairs(folder: Path, stride: int = 4, with_truth: bool = True) -> list[Pair]:
    """Middlebury: left (input) against right (reference), with the disparity of the left view when `with_truth`."""
    lf = read_middlebury(folder)
    pair = Pair("middlebury/left<-right", lf.views[0, 0], lf.views[0, 1])
    if with_truth:
        pair.centers, pair.truth = stereo_correspondence(lf.disparity, stride)
    return [pair]


def describe_quality_split() -> str:
    """The validation pairs `validation_pairs` gives, in words, for the benchmark tables."""
    return (f"Sintel: {' + '.join(VALIDATION_CLIPS)}, frame t+1 from t; light field: HCI {HCI.name} "
            f"{LF_QUALITY_PAIR[0]} from {LF_QUALITY_PAIR[1]}; stereo: Middlebury 2006 {STEREO_VALIDATION_SCENE} "
            f"{STEREO_DIRECTION.replace('<-', ' from ')}")


def middlebury2006_pairs(root: Path, validation: bool, stride: int = 4, with_truth: bool = True,
                         scale: int | None = None) -> list[Pair]:
    """Middlebury 2006 scenes: view1 from view5 (disp1) and, for training, view5 from view1 (disp5).

    The second direction is the mirror image of a left-from-right pair, so one rule
    (`stereo_correspondence`) serves both. With `scale`, centres lie inside the input view cropped
    to a multiple of `scale`.
    """
    pairs = []
    for scene in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (scene.name == STEREO_VALIDATION_SCENE) != validation:
            continue
        lf = read_middlebury2006(scene)
        left, right = lf.views[0, 0], lf.views[0, 1]
        directions = [(STEREO_DIRECTION, left, right, lf.disparity)]
        if not validation:
            disp5 = read_middlebury_disparity(scene / "disp5.png", MIDDLEBURY2006_DISPARITY_SCALE)
            directions.append(("view5<-view1", right[:, ::-1].copy(), left[:, ::-1].copy(), disp5[:, ::-1]))
        for name, target, reference, disparity in directions:
            pair = Pair(stereo_pair_name(scene.name, name), target, reference)
            if with_truth:
                pair.centers, pair.truth = stereo_correspondence(disparity, stride)
                if scale is not None:
                    _keep_covered(pair, scale)
            pairs.append(pair)
    return pairs


def dense_ground_truth(data_root: Path, name: str, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """Every ground-truth point (stride 1) of validation pair `name` whose target pixel lies in `shape`.

    Sintel: the forward flow t -> t+1 (occluded and invalid pixels left out where masks exist);
    light field: the centre view's disparity carried to both views (no occlusion test); stereo: the
    left view's disparity (left out where Middlebury marks it unknown).

    Returns:
        (centers, truth) as `Pair.centers` / `Pair.truth`, or None for a pair without ground truth.
    """
    dataset = _dataset_of(name)
    if dataset == "sintel":
        pass_name, clip_name, t = _sintel_parts(name)
        clip = read_clip(data_root / SINTEL, clip_name, pass_name, frames=[t, t + 1])
        if t not in clip.flow:
            return None
        centers, truth = sintel_correspondence(clip.flow[t], clip.occlusions.get(t), clip.invalid.get(t), stride=1,
                                               input_shape=shape)
    elif name == lightfield_pair_name(*LF_QUALITY_PAIR):
        lf = read_hci(data_root / HCI)
        centers, truth = views_correspondence(lf.disparity, lf.disparity_view, *LF_QUALITY_PAIR, HCI_DISPARITY_SIGN, 1)
    elif dataset == "stereo":
        stereo = middlebury2006_pairs(data_root / MIDDLEBURY2006, validation=True, stride=1)
        found = [p for p in stereo if p.name == name]
        if not found:
            return None
        centers, truth = found[0].centers, found[0].truth
    else:
        return None
    inside = (centers[:, 0] < shape[0]) & (centers[:, 1] < shape[1])
    return centers[inside], truth[inside]


def natural_images(data_root: Path) -> list[np.ndarray]:
    """HR images for SISR training: SR benchmarks, training Sintel frames and training light-field views."""
    images = [read_image(p) for p in sorted((data_root / SR_BENCHMARKS).rglob("*.png"))]
    sintel = data_root / SINTEL
    for name, info in sorted(list_clips(sintel).items()):
        if name not in VALIDATION_CLIPS:
            for pass_name in info.passes:
                images.extend(read_clip(sintel, name, pass_name).frames)
    lf = read_hci(data_root / HCI)
    for u in range(0, lf.grid[0], 2):
        for v in range(0, lf.grid[1], 2):
            if (u, v) not in VALIDATION_VIEWS and lf.present[u, v]:
                images.append(lf.views[u, v])
    return [im for im in images if min(im.shape[:2]) >= 192]


def training_pairs(data_root: Path, with_truth: bool = True) -> list[Pair]:
    """Every real training pair (with ground-truth correspondences when `with_truth`)."""
    pairs = sintel_pairs(data_root / SINTEL, False, with_truth=with_truth)
    pairs += lightfield_pairs(data_root / HCI, False, with_truth=with_truth)
    pairs += stereo_pairs(data_root / MIDDLEBURY, with_truth=with_truth)
    return pairs + middlebury2006_pairs(data_root / MIDDLEBURY2006, False, with_truth=with_truth)


def validation_pairs(data_root: Path) -> list[Pair]:
    """The validation split as super-resolution pairs, without correspondences: Sintel VALIDATION_CLIPS
    (t+1 from t, every pass), the light field's LF_QUALITY_PAIR, the stereo scene."""
    pairs = sintel_pairs(data_root / SINTEL, True, with_truth=False)
    pairs += lightfield_pairs(data_root / HCI, True, with_truth=False)
    return pairs + middlebury2006_pairs(data_root / MIDDLEBURY2006, True, with_truth=False)


def matching_validation_pairs(data_root: Path, stride: int = 4, sets: Sequence[str] = VALIDATION_SETS,
                              passes: Sequence[str] | None = None, scale: int | None = None,
                              skipped: list[str] | None = None) -> list[Pair]:
    """The validation split with ground-truth correspondences, under the rules that Table 2 scores by.

    Sintel pairs (of `passes`, default every pass) need the occlusion and invalid masks of frame t;
    the light field's LF_MATCH_PAIR keeps the points that pass the forward-backward check; the stereo
    scene as `middlebury2006_pairs`. With `scale`, centres lie inside the input cropped to a multiple
    of `scale`. `skipped`, if given, gets a note for everything asked that is not on disk.
    """
    unknown = set(sets) - set(VALIDATION_SETS)
    if unknown:
        raise ValueError(f"unknown validation sets {sorted(unknown)}; choose from {', '.join(VALIDATION_SETS)}")
    notes = [] if skipped is None else skipped
    pairs = []
    if "sintel" in sets:
        pairs += sintel_pairs(data_root / SINTEL, True, stride, passes=passes, require_masks=True, scale=scale,
                              skipped=notes)
    if "lightfield" in sets:
        pairs += lightfield_pairs(data_root / HCI, True, stride, forward_backward=True, scale=scale)
    if "stereo" in sets:
        stereo = middlebury2006_pairs(data_root / MIDDLEBURY2006, True, stride, scale=scale)
        if not stereo:
            notes.append(f"middlebury2006/{STEREO_VALIDATION_SCENE}: not on disk")
        pairs += stereo
    return pairs
