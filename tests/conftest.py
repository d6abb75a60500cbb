"""Shared fixtures: where the real data lives, skipping with a reason when it is absent."""
from __future__ import annotations

from pathlib import Path

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
