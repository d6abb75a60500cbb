"""The method records of refsr.methods and `super_resolve`'s handling of them (synthetic images, no data)."""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
from pathlib import Path

import numpy as np
import pytest

from refsr import methods, shipped
from refsr.degrade import upsample_image
from refsr.errors import InputError
from refsr.methods import METHODS, OPTIONS, default_method, method_weights, super_resolve


def _image(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth uint8 RGB image (h, w, 3): random values blurred by a box filter."""
    rng = np.random.default_rng(seed)
    x = rng.random((h + 4, w + 4, 3))
    x = sum(x[i : i + h, j : j + w] for i in range(5) for j in range(5)) / 25
    return (x * 255).round().astype(np.uint8)


LR = _image(12, 16, seed=0)
REF = _image(96, 128, seed=1)


# ---------------------------------------------------------------- the records

def test_records_are_keyed_by_their_names_in_the_cli_order() -> None:
    assert list(METHODS) == ["refsr", "bicubic", "srresnet", "srresnet-nn", "srresnet-nn-sliding", "exemplar",
                             "flow-warp"]
    assert all(m.name == name for name, m in METHODS.items())
    assert len({m.label for m in METHODS.values()}) == len(METHODS)


@pytest.mark.parametrize("name", list(METHODS))
def test_record_options_are_the_keyword_options_of_its_run_function(name: str) -> None:
    params = list(inspect.signature(METHODS[name].run).parameters.values())
    assert [p.kind for p in params[:2]] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 2  # lr, ref
    rest = params[2:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty for p in rest)
    assert {p.name for p in rest} == METHODS[name].options <= OPTIONS


def test_records_say_what_the_pipeline_reads() -> None:
    assert {n for n, m in METHODS.items() if "fusion" in m.options} == {"refsr"}
    assert {n for n, m in METHODS.items() if m.confidence} == {"refsr", "flow-warp"}
    assert {n for n, m in METHODS.items() if m.uses_reference} == {"refsr", "exemplar", "flow-warp"}
    assert METHODS["refsr"].weights == ("ccnet", "srresnet_nn", "ssnet")
    assert {n: m.back_project for n, m in METHODS.items() if m.back_project} == {"refsr": 10, "flow-warp": 10}


def test_a_record_whose_run_takes_an_option_no_method_has_is_refused() -> None:
    def run(lr, ref, *, scale: int = 8):
        return lr, None

    with pytest.raises(ValueError, match="'scale'"):
        methods.Method("x", "X", run)


def test_applicable_keeps_only_the_options_a_method_takes() -> None:
    given = {"fusion": "average", "search": 50, "flow": "farneback", "precision": "fp32"}
    assert METHODS["refsr"].applicable(given) == {"fusion": "average", "search": 50, "precision": "fp32"}
    assert METHODS["flow-warp"].applicable(given) == {"flow": "farneback"}
    assert METHODS["bicubic"].applicable(given) == {}


# ---------------------------------------------------------------- super_resolve

def test_bicubic_is_refsr_degrade_upsample() -> None:
    np.testing.assert_array_equal(super_resolve(LR, REF, "bicubic", device="cpu"), upsample_image(LR))


@pytest.mark.parametrize(("method", "option"), [("bicubic", "fusion"), ("flow-warp", "search"),
                                                ("exemplar", "precision"), ("refsr", "fuson")])
def test_an_option_the_method_does_not_take_is_an_error_naming_both(method: str, option: str) -> None:
    with pytest.raises(ValueError, match=f"method '{method}' does not take option '{option}'"):
        super_resolve(LR, REF, method, device="cpu", **{option: "mask"})


def test_an_unknown_method_is_an_error_listing_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown method 'bicubik'; choose from refsr, bicubic, "):
        super_resolve(LR, REF, "bicubik", device="cpu")


def test_flow_warp_back_projects_10_times_unless_told_otherwise() -> None:
    default = super_resolve(LR, REF, "flow-warp", device="cpu")
    np.testing.assert_array_equal(default, super_resolve(LR, REF, "flow-warp", device="cpu", back_project=10))
    assert not np.array_equal(default, super_resolve(LR, REF, "flow-warp", device="cpu", back_project=0))


def test_the_records_back_project_is_the_default(monkeypatch) -> None:
    monkeypatch.setitem(METHODS, "bicubic", dataclasses.replace(METHODS["bicubic"], back_project=3))
    np.testing.assert_array_equal(super_resolve(LR, REF, "bicubic", device="cpu"),
                                  super_resolve(LR, REF, "bicubic", device="cpu", back_project=3))
    assert not np.array_equal(super_resolve(LR, REF, "bicubic", device="cpu"), upsample_image(LR))


def test_options_reach_the_run_function(monkeypatch) -> None:
    seen = {}

    def run(lr, ref, *, flow: str = "dis"):
        seen["flow"] = flow
        return METHODS["bicubic"].run(lr, ref)

    monkeypatch.setitem(METHODS, "flow-warp", dataclasses.replace(METHODS["flow-warp"], run=run))
    super_resolve(LR, REF, "flow-warp", device="cpu", flow="farneback", back_project=0)
    assert seen == {"flow": "farneback"}


def test_confidence_comes_from_the_methods_that_have_one() -> None:
    _, none = super_resolve(LR, REF, "bicubic", device="cpu", return_confidence=True)
    sr, confidence = super_resolve(LR, REF, "flow-warp", device="cpu", return_confidence=True)
    assert none is None
    assert confidence.shape == sr.shape[:2] and confidence.dtype == np.float32


# ---------------------------------------------------------------- default method and weights

@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch) -> Path:
    """An empty stand-in for refsr/weights/."""
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def _ship(folder: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.pt").write_bytes(name.encode())


def test_default_method_is_refsr_only_when_all_its_weights_ship(weights_dir: Path) -> None:
    _ship(weights_dir, "ccnet", "srresnet_nn")
    assert default_method() == "bicubic"
    _ship(weights_dir, "ssnet")
    assert default_method() == "refsr"


def test_method_weights_are_the_sha256_of_the_shipped_files(weights_dir: Path) -> None:
    _ship(weights_dir, "ccnet", "srresnet_nn", "ssnet")
    assert method_weights("refsr") == {n: hashlib.sha256(n.encode()).hexdigest()
                                       for n in ("ccnet", "srresnet_nn", "ssnet")}
    assert method_weights("bicubic") is None and method_weights("flow-warp") is None


def test_method_weights_name_missing_weights_and_how_to_train_them(weights_dir: Path) -> None:
    _ship(weights_dir, "ccnet", "srresnet_nn")
    with pytest.raises(InputError) as err:
        method_weights("refsr")
    assert err.value.path == str(weights_dir / "ssnet.pt")
    assert err.value.problem == "method 'refsr' needs these weights; train them with `refsr train ssnet --config cpu`"


def test_method_weights_of_an_unknown_method() -> None:
    with pytest.raises(InputError) as err:
        method_weights("bicubik")
    assert err.value.path == "method" and err.value.problem.startswith("unknown method 'bicubik'; choose from refsr, ")


# ---------------------------------------------------------------- progress

@pytest.mark.parametrize("method", ["exemplar", "flow-warp"])
def test_progress_is_shown_when_asked_and_changes_nothing(method: str, capsys) -> None:
    quiet = super_resolve(LR, REF, method, device="cpu", back_project=2)
    assert capsys.readouterr().err == ""
    shown = super_resolve(LR, REF, method, device="cpu", back_project=2, progress=True)
    err = capsys.readouterr().err
    assert method in err and "back-project" in err
    np.testing.assert_array_equal(quiet, shown)


def test_back_projection_progress_for_a_method_without_its_own(capsys) -> None:
    quiet = super_resolve(LR, REF, "bicubic", device="cpu", back_project=3)
    shown = super_resolve(LR, REF, "bicubic", device="cpu", back_project=3, progress=True)
    assert "back-project" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, shown)


def test_progress_reaches_only_the_run_functions_that_take_it(monkeypatch) -> None:
    seen = {}

    def run(lr, ref, *, flow: str = "dis", progress: bool = False):
        seen["progress"] = progress
        return METHODS["bicubic"].run(lr, ref)

    monkeypatch.setitem(METHODS, "flow-warp", dataclasses.replace(METHODS["flow-warp"], run=run))
    super_resolve(LR, REF, "flow-warp", device="cpu", back_project=0, progress=True)
    assert seen == {"progress": True}
    super_resolve(LR, REF, "flow-warp", device="cpu", back_project=0)
    assert seen == {"progress": False}
    super_resolve(LR, REF, "bicubic", device="cpu", progress=True)  # bicubic's run takes no options


def test_exemplar_matches_are_those_of_one_gradient_search() -> None:
    import torch

    from refsr.baselines.exemplar import SEARCH_TILE, gradient_matches
    from refsr.matching import match_tensors
    from refsr.tensors import to_tensor

    lr_up = to_tensor(upsample_image(_image(24, 20, seed=2)), "cpu")  # 192 rows of centres: 3 rows of bins
    ref = to_tensor(_image(160, 150, seed=3), "cpu")
    ys, xs = torch.meshgrid(torch.arange(4, 192, 6), torch.arange(4, 160, 6), indexing="ij")
    centers = torch.stack([ys, xs], -1).reshape(-1, 2)
    assert len(torch.unique(centers[:, 0].clamp(0, 159) // SEARCH_TILE)) == 3
    found = gradient_matches(lr_up, ref, centers, search=20)
    assert torch.equal(found, match_tensors(lr_up, ref, centers, "gradient", 20))
