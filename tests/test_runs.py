"""What a run is (refsr.runs): identity and id, defaults, checks before a run exists, reports, reprocessing.

Tiny synthetic scenes in a store under tmp_path; no Prefect and no real data needed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsr import metrics, runs
from refsr import store as zarr_store
from refsr.errors import InputError
from refsr.io.lightfield import LightField
from refsr.io.sintel import SintelClip

H, W = 64, 72


def _lightfield(grid: tuple[int, int], reader: str = "uv-folder", missing: tuple[int, int] | None = None) -> LightField:
    """A U x V grid of shifted crops of one random texture; `missing` is a zero view marked absent."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (H + 4 * grid[1], W + 4 * grid[0], 3), dtype=np.uint8)
    views = np.stack([np.stack([texture[2 * v:2 * v + H, 3 * u:3 * u + W] for v in range(grid[1])])
                      for u in range(grid[0])])
    present = np.ones(grid, bool)
    if missing is not None:
        present[missing], views[missing] = False, 0
    return LightField(views=views, present=present, disparity=None, disparity_view=None, source="synthetic",
                      reader=reader)


def _clip(n: int = 4) -> SintelClip:
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 256, (H, W + 4 * n, 3), dtype=np.uint8)
    frames = np.stack([texture[:, 4 * t:4 * t + W] for t in range(n)])
    return SintelClip(name="clip", pass_name="final", numbers=list(range(1, n + 1)), frames=frames, flow={},
                      occlusions={}, invalid={}, source="synthetic")


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store with a 5x5 light field `grid` (view (4, 4) missing), a 3x3 `small`, a stereo `pair`, a 4-frame `clip`."""
    path = str(tmp_path / "s.zarr")
    zarr_store.ingest_lightfield(path, "grid", _lightfield((5, 5), missing=(4, 4)))
    zarr_store.ingest_lightfield(path, "small", _lightfield((3, 3)))
    zarr_store.ingest_lightfield(path, "pair", _lightfield((1, 2), reader="stereo"))
    zarr_store.ingest_video(path, "clip", _clip())
    return path


def _open(store: str, scene: str, reference=None, targets=None, run_id: str | None = None,
          weights: dict | None = None) -> dict:
    reference, chosen = runs.resolve_targets(store, scene, reference, targets)
    return runs.open_run(store, scene, runs.run_identity("bicubic", weights, reference, chosen, None), "cpu",
                         run_id=run_id)


def test_finish_records_where_targets_were_computed_across_resumes(store, complete_with_bicubic):
    run = _open(store, "clip")
    assert runs.finish_if_complete(store, run["run_id"], "clip", ["cuda:0"]) is None  # pending: recorded, not finished
    complete_with_bicubic(store, run)
    assert runs.finish_if_complete(store, run["run_id"], "clip", ["cpu", "cuda:0"])
    assert zarr_store.run_group(store, run["run_id"], "clip").attrs["computed_on"] == ["cpu", "cuda:0"]


# ---------------------------------------------------------------- identity and id

def test_run_id_is_stable_and_follows_weights_and_targets() -> None:
    identity = runs.run_identity("bicubic", None, [0, 0], [[3, 3]], None)
    assert identity == {"method": "bicubic", "weights": None, "reference": [0, 0], "targets": [[3, 3]],
                        "fusion": None, "params": {"scale": 8}}
    # The ids the pipelines have always given these settings: stores keep resuming their runs.
    assert runs.default_run_id(identity) == "bicubic-bafa3cc8"
    refsr = runs.run_identity("refsr", {"ccnet": "a" * 64}, [0, 0], [[3, 3]], "mask")
    assert runs.default_run_id(refsr) == "refsr-d4cb53ef"
    same = runs.run_identity("bicubic", None, (np.int64(0), 0), np.array([[3, 3]], np.int32), None)
    assert runs.default_run_id(same) == "bicubic-bafa3cc8"
    other_weights = runs.run_identity("bicubic", {"net": "0" * 64}, [0, 0], [[3, 3]], None)
    other_targets = runs.run_identity("bicubic", None, [0, 0], [[3, 3], [1, 2]], None)
    ids = {runs.default_run_id(i) for i in (identity, other_weights, other_targets)}
    assert len(ids) == 3 and all(i.startswith("bicubic-") for i in ids)


def test_a_new_revision_of_a_method_is_a_run_of_its_own() -> None:
    before = runs.run_identity("refsr", {"ccnet": "a" * 64}, [0, 0], [[3, 3]], "mask")
    revised = runs.run_identity("refsr", {"ccnet": "a" * 64}, [0, 0], [[3, 3]], "mask", revision=1)
    assert revised["params"] == {"scale": 8, "revision": 1}
    assert runs.default_run_id(revised) != runs.default_run_id(before) == "refsr-d4cb53ef"


def test_a_flip_ensemble_run_is_a_run_of_its_own(store: str) -> None:
    plain = runs.run_identity("refsr", {"ccnet": "a" * 64}, [0, 0], [[3, 3]], "mask")
    ensemble = runs.run_identity("refsr", {"ccnet": "a" * 64}, [0, 0], [[3, 3]], "mask", ensemble=True)
    assert ensemble["params"] == {"scale": 8, "ensemble": True} and plain["params"] == {"scale": 8}
    assert runs.default_run_id(ensemble) != runs.default_run_id(plain) == "refsr-d4cb53ef"
    reference, chosen = runs.resolve_targets(store, "small", None, None)
    for flag in (False, True):
        identity = runs.run_identity("bicubic", None, reference, chosen, None, ensemble=flag)
        run = runs.open_run(store, "small", identity, "cpu")
        assert runs.target_inputs(store, run["run_id"], "small", 0).ensemble is flag


# ---------------------------------------------------------------- references and targets

def test_defaults_for_light_field_stereo_and_video(store: str) -> None:
    assert runs.resolve_targets(store, "grid", None, None) == ([0, 0], [[3, 3]])
    assert runs.resolve_targets(store, "small", None, None) == (
        [0, 0], [[u, v] for u in range(3) for v in range(3) if (u, v) != (0, 0)])
    assert runs.resolve_targets(store, "pair", None, None) == ([0, 1], [[0, 0]])
    assert runs.resolve_targets(store, "clip", None, None) == (runs.PREVIOUS, [[1, 0], [2, 0], [3, 0]])
    assert runs.resolve_targets(store, "clip", None, [2, [3, 0]]) == (runs.PREVIOUS, [[2, 0], [3, 0]])
    reference, chosen = runs.resolve_targets(store, "grid", (1, 1), "all")
    assert reference == [1, 1] and len(chosen) == 23 and [1, 1] not in chosen and [4, 4] not in chosen
    assert runs.scene_kind(store, "pair") == "stereo" and runs.scene_kind(store, "clip") == "video"


@pytest.mark.parametrize(("scene", "reference", "targets", "message"), [
    ("grid", None, [[9, 9]], r"view\(s\) \(9, 9\) outside the 5x5 grid of scene 'grid'"),
    ("grid", None, [[3, 3], [-1, 0]], r"\(-1, 0\) outside the 5x5 grid"),
    ("grid", None, [[4, 4]], r"view\(s\) \(4, 4\) of scene 'grid' are missing from its source synthetic"),
    ("grid", [4, 4], None, r"reference view \(4, 4\) is not in its 5x5 grid of present views"),
    ("grid", [0, 0], [[0, 0]], "cannot also be a target"),
    ("grid", None, [[1]], "expected a list of \\[u, v\\] pairs"),
    ("grid", None, "some", "expected a list of \\[u, v\\] pairs"),
    ("grid", "x", None, "expected a view \\[u, v\\]"),
    ("clip", None, [0], r"frame indices \[0\] have no previous frame in 0..3"),
    ("clip", None, [[4, 0]], r"frame indices \[4\] have no previous frame"),
    ("clip", None, ["x"], "expected a list of frame indices"),
])
def test_bad_targets_are_refused_before_a_run_exists(store: str, scene, reference, targets, message) -> None:
    with pytest.raises(InputError, match=message):
        runs.resolve_targets(store, scene, reference, targets)
    assert zarr_store.run_names(store) == []


def test_open_run_checks_targets_before_writing(store: str) -> None:
    identity = runs.run_identity("bicubic", None, [0, 0], [[9, 9]], None)
    with pytest.raises(InputError, match=r"\(9, 9\) outside the 5x5 grid"):
        runs.open_run(store, "grid", identity, "cpu")
    assert zarr_store.run_names(store) == []
    assert not (Path(store) / zarr_store.RUNS / runs.default_run_id(identity)).exists()


def test_the_open_run_task_refuses_a_target_outside_the_grid(store: str) -> None:
    from pipelines.tasks import open_run

    with pytest.raises(InputError, match=r"\(9, 9\) outside the 5x5 grid"):
        open_run.fn(store, "grid", None, [[9, 9]], "bicubic", "mask", "cpu")
    assert zarr_store.run_names(store) == []


def test_reference_of_video_and_light_field() -> None:
    assert runs.reference_of({"reference": runs.PREVIOUS}, np.array([3, 0], np.int32)) == [2, 0]
    assert runs.reference_of({"reference": [0, 1]}, [0, 0]) == [0, 1]


def test_target_inputs_read_the_target_and_its_reference(store: str) -> None:
    run = _open(store, "clip", targets=[2])
    inputs = runs.target_inputs(store, run["run_id"], "clip", 0)
    assert inputs.target == [2, 0] and not inputs.done and inputs.method == "bicubic" and not inputs.confidence
    assert inputs.lr.shape == (H // 8, W // 8, 3)
    np.testing.assert_array_equal(inputs.reference_image, zarr_store.read_frame(store, "clip", 1))
    np.testing.assert_array_equal(runs.truth_image(store, "clip", [2, 0]), zarr_store.read_frame(store, "clip", 2))
    with pytest.raises(InputError, match="missing from the source"):
        runs.hr_image(store, "grid", [4, 4])


# ---------------------------------------------------------------- a run's life and its report

def test_open_run_creates_then_resumes_with_the_default_id(store: str) -> None:
    run = _open(store, "grid")
    assert run == {"run_id": "bicubic-bafa3cc8", "scene": "grid", "status": "created", "pending": [0], "n": 1}
    g = zarr_store.run_group(store, run["run_id"], "grid")
    assert g["sr"].shape == (1, H, W, 3) and g.attrs["device"] == "cpu" and g.attrs["reference"] == [0, 0]
    assert _open(store, "grid")["status"] == "resumed"


def test_report_of_a_finished_light_field_run(store: str, complete_with_bicubic) -> None:
    run = _open(store, "small", targets=[[1, 1], [2, 2]])
    assert runs.finish_if_complete(store, run["run_id"], "small") is None
    complete_with_bicubic(store, run)
    rep = runs.write_report(store, run["run_id"], "small")
    g = zarr_store.run_group(store, run["run_id"], "small")
    psnr = [metrics.psnr(np.asarray(g["sr"][i]), runs.truth_image(store, "small", t))
            for i, t in enumerate([[1, 1], [2, 2]])]
    assert [(r["target"], r["reference"], r["done"]) for r in rep.rows] == [("(1, 1)", "(0, 0)", True),
                                                                          ("(2, 2)", "(0, 0)", True)]
    assert [r["psnr"] for r in rep.rows] == [round(p, 4) for p in psnr]
    assert rep.mean_psnr == pytest.approx(np.mean(psnr))
    assert rep.directory == Path(store).parent / "s.zarr.reports" / run["run_id"] / "small"
    assert [p.name for p in rep.pictures] == ["psnr_heatmap.png", "crop_truth_bicubic_result.png"]
    assert runs.report_pictures(store, run["run_id"], "small") == sorted(rep.pictures)
    lines = rep.markdown.splitlines()
    assert lines[0] == f"# refsr run `{run['run_id']}`, scene `small`"
    assert lines[2] == "method **bicubic**, reference [0, 0], 2/2 targets done, device cpu"
    assert lines[4].startswith(f"PSNR {min(psnr):.2f} .. {max(psnr):.2f} dB, mean {np.mean(psnr):.2f} dB")
    assert rep.markdown.count("data:image/png;base64,") == 2 and lines[-1] == f"Pictures on disk: `{rep.directory}`"
    assert runs.report_key(run["run_id"], "small") == f"refsr-small-{run['run_id']}"


def test_report_rows_of_a_damaged_run_name_the_damaged_file(store: str, complete_with_bicubic) -> None:
    run = _open(store, "small", targets=[[1, 1]])
    complete_with_bicubic(store, run)
    chunk = Path(store) / "runs" / run["run_id"] / "small" / "psnr" / "c" / "0"
    chunk.write_bytes(b"not a chunk")
    with pytest.raises(InputError, match="corrupt chunk") as err:
        runs.report_rows(store, run["run_id"], "small")
    assert str(chunk) in str(err.value)


def test_report_of_a_video_run_and_of_an_unevaluated_one(store: str, complete_with_bicubic) -> None:
    run = _open(store, "clip")
    rep = runs.write_report(store, run["run_id"], "clip")
    assert [r["target"] for r in rep.rows] == ["frame 1", "frame 2", "frame 3"]
    assert [r["reference"] for r in rep.rows] == ["frame 0", "frame 1", "frame 2"]
    assert not any(r["done"] for r in rep.rows) and all(r["psnr"] is None for r in rep.rows)
    assert [p.name for p in rep.pictures] == ["psnr_per_frame.png"] and np.isnan(rep.mean_psnr)
    assert "0/3 targets done" in rep.markdown and "median PSNR" not in rep.markdown
    complete_with_bicubic(store, run)
    rep = runs.write_report(store, run["run_id"], "clip")
    assert "3/3 targets done" in rep.markdown and len(rep.pictures) == 2


# ---------------------------------------------------------------- finished runs

def test_latest_finished_run_and_its_table(store: str, complete_with_bicubic) -> None:
    with pytest.raises(InputError, match="no finished run of scene 'small'"):
        runs.latest_finished_run(store, "small")
    first = _open(store, "small", targets=[[1, 1]], run_id="first")
    second = _open(store, "small", targets=[[1, 1], [2, 2]], run_id="second")
    complete_with_bicubic(store, first)
    complete_with_bicubic(store, second)
    _open(store, "small", targets=[[0, 1]], run_id="unfinished")
    zarr_store.run_group(store, "first", "small", "r+").attrs["finished"] = "2030-01-02T00:00:00+00:00"
    zarr_store.run_group(store, "second", "small", "r+").attrs["finished"] = "2030-01-01T00:00:00+00:00"
    assert runs.latest_finished_run(store, "small") == "first"
    lines = zarr_store.describe_run(store, "second", "small").splitlines()
    assert lines[0].startswith("  second/small  method=bicubic  reference=[0, 0]  device=cpu  done 2/2  finished 2030-")
    assert lines[2] == "    target    done      PSNR  PSNR-Y    SSIM"
    assert lines[3].startswith("    (1, 1)    yes   ") and lines[4].startswith("    (2, 2)    yes   ")
    assert lines[5].startswith("    mean") and len(lines) == 6
    assert len(zarr_store.describe_run(store, "first", "small").splitlines()) == 4  # one target: no mean row
    with pytest.raises(InputError, match="no run 'third' for scene 'small'"):
        zarr_store.describe_run(store, "third", "small")


# ---------------------------------------------------------------- reprocessing

def test_run_configs_and_the_up_to_date_rule(store: str, complete_with_bicubic) -> None:
    assert runs.run_configs(store, "small") == [{"reference": None, "targets": None}]
    old = _open(store, "small", targets=[[1, 1]], weights={"net": "0" * 64})
    _open(store, "small", targets=[[1, 1]], run_id="copy")  # same reference and targets: one config
    _open(store, "small", reference=[1, 1], targets=[[2, 2]])
    _open(store, "pair")  # another scene
    assert runs.run_configs(store, "small") == [{"reference": [0, 0], "targets": [[1, 1]]},
                                                {"reference": [1, 1], "targets": [[2, 2]]}]
    current = runs.run_identity("bicubic", None, [0, 0], [[1, 1]], None)
    assert runs.up_to_date(store, "small", current) == (False, "copy")  # unfinished: resume it
    complete_with_bicubic(store, {**old, "pending": [0]})
    assert runs.up_to_date(store, "small", current) == (False, "copy")  # finished, but with other weights
    stale = runs.run_identity("bicubic", {"net": "0" * 64}, [0, 0], [[1, 1]], None)
    assert runs.up_to_date(store, "small", stale) == (True, old["run_id"])
    complete_with_bicubic(store, _open(store, "small", targets=[[1, 1]], run_id="copy"))
    assert runs.up_to_date(store, "small", current) == (True, "copy")
    assert runs.up_to_date(store, "small", runs.run_identity("bicubic", None, [0, 0], [[2, 2]], None)) == (False, None)
