"""refsr.devices: 'auto' follows CUDA availability, 'cuda' without CUDA is an error; describe() names the machine."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
import torch

from refsr.devices import describe, pick_device


@pytest.fixture
def cuda(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Set whether torch reports a CUDA device (nothing here runs on one)."""
    def set_available(value: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: value)
    return set_available


def _cpu_model() -> str | None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return None
    lines = cpuinfo.read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else None


@pytest.mark.parametrize("available", [False, True])
def test_cpu_is_cpu_whatever_is_available(cuda: Callable[[bool], None], available: bool) -> None:
    cuda(available)
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("available, expected", [(False, "cpu"), (True, "cuda")])
def test_auto_picks_cuda_only_when_available(cuda: Callable[[bool], None], available: bool, expected: str) -> None:
    cuda(available)
    assert pick_device("auto") == torch.device(expected)
    assert pick_device() == torch.device(expected)


def test_auto_on_this_machine_follows_torch() -> None:
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_error(cuda: Callable[[bool], None], name: str) -> None:
    cuda(False)
    with pytest.raises(RuntimeError, match="no CUDA device is available"):
        pick_device(name)


@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_with_cuda_is_that_device(cuda: Callable[[bool], None], name: str) -> None:
    cuda(True)
    assert pick_device(name) == torch.device(name)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(RuntimeError):
        pick_device("gpu")


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_describe_names_the_cpu_cores_and_torch(device: str | torch.device) -> None:
    text = describe(device)
    assert text.startswith("CPU only: ")
    assert f"{os.cpu_count()} logical cores" in text
    assert f"torch {torch.__version__}" in text and f"({torch.get_num_threads()} threads)" in text
    model = _cpu_model()
    if model is not None:
        assert model in text


def test_describe_a_cuda_device_names_the_gpu_then_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU 9000")
    text = describe("cuda")
    assert text.startswith("Test GPU 9000; host ")
    assert "CPU only" not in text and f"{os.cpu_count()} logical cores" in text
