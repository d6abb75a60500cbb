"""pipelines.tasks helpers that are not tasks and the flows' parameter types (no Prefect server)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines import tasks
from refsr import runs
from refsr import store as zarr_store
from refsr.errors import InputError
from refsr.io.lightfield import LightField
from refsr.methods import METHODS


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "s.zarr")
    views = np.random.default_rng(0).integers(0, 256, (3, 3, 64, 72, 3), dtype=np.uint8)
    zarr_store.ingest_lightfield(path, "small", LightField(views=views, present=np.ones((3, 3), bool), disparity=None,
                                                           disparity_view=None, source="synthetic", reader="uv-folder"))
    return path


def test_run_identity_fills_defaults_and_keeps_only_options_the_method_takes(store: str) -> None:
    bicubic = tasks.run_identity(store, "small", None, None, "bicubic", "mask", None)
    assert bicubic == runs.run_identity("bicubic", None, *runs.resolve_targets(store, "small", None, None), None)
    refsr = tasks.run_identity(store, "small", None, [[2, 2]], "refsr", "average", {"ccnet": "a" * 64})
    assert refsr["fusion"] == "average" and refsr["targets"] == [[2, 2]] and refsr["weights"] == {"ccnet": "a" * 64}
    assert refsr["params"] == {"scale": 8, "revision": METHODS["refsr"].revision}
    ensemble = tasks.run_identity(store, "small", None, [[2, 2]], "refsr", "average", {"ccnet": "a" * 64}, True)
    assert ensemble == {**refsr, "params": {**refsr["params"], "ensemble": True}}
    assert tasks.run_identity(store, "small", None, None, "bicubic", "mask", None, True) == bicubic
    with pytest.raises(InputError, match="outside"):
        tasks.run_identity(store, "small", None, [[5, 5]], "bicubic", None, None)


def test_the_reconstruct_task_runs_a_flip_ensemble_run_as_one(store: str, monkeypatch) -> None:
    from refsr import methods

    identity = tasks.run_identity(store, "small", None, [[2, 2]], "refsr", "mask", {"ccnet": "a" * 64}, True)
    run = runs.open_run(store, "small", identity, "cpu", confidence=False)
    seen = {}

    def fake_super_resolve(lr, ref, method, **options):
        seen.update(method=method, **options)
        return np.zeros((lr.shape[0] * 8, lr.shape[1] * 8, 3), np.uint8)

    monkeypatch.setattr(methods, "super_resolve", fake_super_resolve)
    assert tasks.reconstruct_target.fn(store, run["run_id"], "small", 0, "cpu")["status"] == "done"
    assert seen["method"] == "refsr" and seen["ensemble"] is True and seen["fusion"] == "mask"


class _State:
    def __init__(self, outcome: BaseException):
        self.outcome = outcome

    def result(self, raise_on_failure: bool = True) -> BaseException:
        return self.outcome


@pytest.mark.parametrize("error, retried", [(InputError("x.png", "bad"), False), (ValueError("bad"), False),
                                            (RuntimeError("worker lost"), True), (MemoryError(), True)])
def test_reconstruct_retries_only_what_may_pass_next_time(error: BaseException, retried: bool) -> None:
    assert tasks._retry_transient(None, None, _State(error)) is retried


def test_flow_parameter_choices_are_the_library_s() -> None:
    import typing

    from pipelines import flows
    from refsr.io.sintel import RENDER_PASSES
    from refsr.synthesis import FUSIONS

    assert typing.get_args(flows.Fusion) == FUSIONS
    hints = typing.get_type_hints(flows.sintel_reconstruct.fn)
    assert set(typing.get_args(hints["pass_name"])) == set(RENDER_PASSES)
