"""refsr.datasets: real pairs point at the same content; the validation split stays out of training."""
from __future__ import annotations

import numpy as np
import pytest

from refsr.degrade import SCALE
from refsr.datasets import (LF_QUALITY_PAIR, VALIDATION_CLIPS, VALIDATION_VIEWS, Pair, dense_ground_truth,
                            lightfield_pair_name, lightfield_pairs, sintel_pair_name, sintel_pairs, stereo_pair_name,
                            training_pairs, validation_pairs)


def test_validation_split_is_not_trained_on(data_root):
    train = {p.name for p in training_pairs(data_root, with_truth=False)}
    val = {p.name for p in validation_pairs(data_root)}
    assert train and val and not train & val
    assert not any(f"/{clip}/" in name for name in train for clip in VALIDATION_CLIPS)
    assert not any(str(view) in name for name in train if name.startswith("hci/") for view in VALIDATION_VIEWS)


def test_validation_stereo_scene_is_not_trained_on(data_root):
    from refsr.datasets import STEREO_VALIDATION_SCENE

    train = {p.name for p in training_pairs(data_root, with_truth=False)}
    val = {p.name for p in validation_pairs(data_root)}
    assert f"middlebury2006/{STEREO_VALIDATION_SCENE}/view1<-view5" in val
    assert not any(f"/{STEREO_VALIDATION_SCENE}/" in name for name in train)


def test_middlebury2006_pairs_both_directions_point_at_the_same_content(data_root):
    from refsr.datasets import middlebury2006_pairs

    pairs = middlebury2006_pairs(data_root / "middlebury2006", validation=False)
    assert len(pairs) >= 2 * 17 and {p.name.rsplit("/", 1)[1] for p in pairs} == {"view1<-view5", "view5<-view1"}
    for pair in pairs[:2]:
        at_truth = np.abs(pair.target[pair.centers[:, 0], pair.centers[:, 1]].astype(float)
                          - pair.reference[pair.truth[:, 0], pair.truth[:, 1]].astype(float)).mean()
        mirrored = pair.truth.copy()  # the opposite sign of the disparity
        mirrored[:, 1] = np.clip(2 * pair.centers[:, 1] - pair.truth[:, 1], 0, pair.reference.shape[1] - 1)
        wrong = np.abs(pair.target[pair.centers[:, 0], pair.centers[:, 1]].astype(float)
                       - pair.reference[mirrored[:, 0], mirrored[:, 1]].astype(float)).mean()
        assert len(pair.centers) > 5000 and at_truth < wrong / 2, (pair.name, at_truth, wrong)


def test_sintel_pairs_without_masks_are_noted_and_centres_stay_in_the_lr_crop(sintel_root):
    plain = {p.name: p for p in sintel_pairs(sintel_root, True, stride=8, passes=("clean",))}
    notes = []
    strict = sintel_pairs(sintel_root, True, stride=8, passes=("clean",), require_masks=True, scale=SCALE,
                          skipped=notes)
    assert strict and sorted([p.name for p in strict] + [n.split(": ")[0] for n in notes]) == sorted(plain)
    assert all(n.endswith(": no occlusion/invalid masks") for n in notes)
    for pair in strict:  # the same points, less those outside what the x8 LR covers
        h, w = (n - n % SCALE for n in pair.target.shape[:2])
        full = plain[pair.name]
        inside = (full.centers[:, 0] < h) & (full.centers[:, 1] < w)
        assert np.array_equal(pair.centers, full.centers[inside]) and np.array_equal(pair.truth, full.truth[inside])
    notes = []
    assert sintel_pairs(sintel_root, True, passes=("nope",), skipped=notes) == []
    assert notes == [f"sintel/nope/{clip}: not on disk" for clip in sorted(VALIDATION_CLIPS)]


def test_lightfield_forward_backward_check_only_drops_points(hci_antinous):
    plain = lightfield_pairs(hci_antinous, True, stride=8)[0]
    checked = lightfield_pairs(hci_antinous, True, stride=8, forward_backward=True)[0]
    assert checked.name == plain.name
    kept = {(*c, *t) for c, t in zip(plain.centers.tolist(), plain.truth.tolist())}
    assert 0 < len(checked.centers) < len(plain.centers)
    assert all((*c, *t) in kept for c, t in zip(checked.centers.tolist(), checked.truth.tolist()))


def test_matching_validation_pairs_apply_the_rules_table_2_scores_by(data_root):
    from refsr.datasets import HCI, LF_MATCH_PAIR, STEREO_VALIDATION_SCENE, matching_validation_pairs

    notes = []
    pairs = {p.name: p for p in matching_validation_pairs(data_root, stride=8, passes=("clean",), scale=SCALE,
                                                          skipped=notes)}
    strict = sintel_pairs(data_root / "sintel" / "training", True, stride=8, passes=("clean",), require_masks=True,
                          scale=SCALE)
    checked = lightfield_pairs(data_root / HCI, True, stride=8, forward_backward=True, scale=SCALE)[0]
    assert checked.name == f"hci/{LF_MATCH_PAIR[0]}<-{LF_MATCH_PAIR[1]}"
    stereo = f"middlebury2006/{STEREO_VALIDATION_SCENE}/view1<-view5"
    assert set(pairs) == {p.name for p in strict} | {checked.name, stereo}
    assert np.array_equal(pairs[checked.name].centers, checked.centers)
    assert all(n.endswith(": no occlusion/invalid masks") for n in notes)
    with pytest.raises(ValueError, match="unknown validation sets"):
        matching_validation_pairs(data_root, sets=("sintel", "video"))


def test_the_split_in_words_comes_from_the_constants(monkeypatch) -> None:
    from refsr import datasets

    monkeypatch.setattr(datasets, "VALIDATION_CLIPS", ("ambush_1",))
    monkeypatch.setattr(datasets, "STEREO_VALIDATION_SCENE", "Lampshade1")
    text = datasets.describe_quality_split()
    assert "Sintel: ambush_1, frame t+1 from t" in text and "Middlebury 2006 Lampshade1 view1 from view5" in text
    assert f"{datasets.LF_QUALITY_PAIR[0]} from {datasets.LF_QUALITY_PAIR[1]}" in text


def test_a_pair_name_says_its_data_set_pass_and_table_group() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    sintel = Pair(sintel_pair_name("final", "alley_1", 2), image, image)
    assert sintel.name == "sintel/final/alley_1/3<-2"
    assert (sintel.dataset, sintel.render_pass, sintel.group) == ("sintel", "final", "Sintel final")
    lf = Pair(lightfield_pair_name((3, 3), (0, 0)), image, image)
    assert lf.name == "hci/(3, 3)<-(0, 0)"
    assert (lf.dataset, lf.render_pass, lf.group) == ("lightfield", None, "Light field")
    stereo = Pair(stereo_pair_name("Baby1"), image, image)
    assert stereo.name == "middlebury2006/Baby1/view1<-view5" and (stereo.dataset, stereo.group) == ("stereo", "Stereo")
    assert Pair("middlebury/left<-right", image, image).group == "Stereo"
    assert Pair("synthetic", image, image).dataset == "synthetic"


def test_dense_ground_truth_of_the_validation_pairs(data_root):
    """Stride-1 points inside the asked shape for each data set; none for a pair without ground truth."""
    pairs: dict[str, Pair] = {}
    for p in validation_pairs(data_root):
        pairs.setdefault(p.dataset, p)
    for dataset, pair in pairs.items():
        shape = (pair.target.shape[0] // 2, pair.target.shape[1])
        centers, truth = dense_ground_truth(data_root, pair.name, shape)
        assert len(centers) == len(truth) > shape[0] * shape[1] // 4, dataset
        assert (centers[:, 0] < shape[0]).all() and (centers[:, 1] < shape[1]).all()
        rows = np.unique(centers[:, 0])
        assert (np.diff(rows) == 1).mean() > 0.9  # stride 1
    assert pairs["lightfield"].name == lightfield_pair_name(*LF_QUALITY_PAIR)
    assert dense_ground_truth(data_root, "middlebury/left<-right", (8, 8)) is None
