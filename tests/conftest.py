"""Shared fixtures: where the real data lives, skipping with a reason when it is absent."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from refsr.datasets import DEFAULT_DATA, HCI, SINTEL

DATA_ROOT = DEFAULT_DATA


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA_ROOT.is_dir():
        pytest.skip(f"real data not found at {DATA_ROOT} (set REFSR_DATA)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def sintel_root(data_root: Path) -> Path:
    root = data_root / SINTEL
    if not root.is_dir():
        pytest.skip(f"Sintel data not found at {root}")
    return root


@pytest.fixture(scope="session")
def hci_antinous(data_root: Path) -> Path:
    root = data_root / HCI
    if not root.is_dir():
        pytest.skip(f"HCI antinous not found at {root}")
    return root


@pytest.fixture
def complete_with_bicubic() -> Callable[[str, dict], None]:
    """Finish an opened run (`refsr.runs.open_run`'s dict): bicubic results for its pending targets, evaluated."""
    from refsr import runs
    from refsr import store as zarr_store
    from refsr.degrade import upsample_image

    def complete(store: str, run: dict) -> None:
        for index in run["pending"]:
            inputs = runs.target_inputs(store, run["run_id"], run["scene"], index)
            zarr_store.write_target(store, run["run_id"], run["scene"], index, upsample_image(inputs.lr))
        for index in runs.unevaluated_targets(store, run["run_id"], run["scene"]):
            runs.evaluate_target(store, run["run_id"], run["scene"], index)
        assert runs.finish_if_complete(store, run["run_id"], run["scene"])

    return complete
