"""refsr.precision: bf16 only where native (or asked for), autocast, channels_last keeps values."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from refsr.precision import PRECISIONS, autocast, channels_last, describe_precision, native_bf16, use_bf16

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # a device object only: nothing here runs on it


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Set whether this CPU reports native bf16 (AVX512-BF16 / AMX)."""
    def set_native(value: bool) -> None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: value, raising=False)
    return set_native


def test_precisions():
    assert PRECISIONS == ("auto", "fp32", "bf16")


@pytest.mark.parametrize("native", [True, False])
def test_native_bf16_on_cpu_follows_the_instruction_probe(cpu_bf16, native):
    cpu_bf16(native)
    assert native_bf16(CPU) is native


def test_native_bf16_on_cpu_is_false_without_a_probe(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert native_bf16(CPU) is False


@pytest.mark.parametrize("native", [True, False])
def test_native_bf16_on_cuda_asks_torch(monkeypatch, native):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: native)
    assert native_bf16(CUDA) is native


def test_native_bf16_is_false_on_other_devices():
    assert native_bf16(torch.device("meta")) is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_picks_bf16_only_where_native(cpu_bf16, monkeypatch, native):
    cpu_bf16(native)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: native)
    assert use_bf16("auto", CPU) is native
    assert use_bf16("auto", CUDA) is native
    assert use_bf16("auto", torch.device("meta")) is False


@pytest.mark.parametrize("native", [True, False])
def test_explicit_choices_ignore_the_hardware(cpu_bf16, native):
    cpu_bf16(native)
    assert use_bf16("fp32", CPU) is False
    assert use_bf16("bf16", CPU) is True


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        use_bf16("fp16", CPU)
    with pytest.raises(ValueError):
        describe_precision("half", CPU)


def test_describe_precision(cpu_bf16):
    cpu_bf16(True)
    assert describe_precision("auto", CPU) == "auto (bf16 here)"
    cpu_bf16(False)
    assert describe_precision("auto", CPU) == "auto (fp32 here)"
    assert describe_precision("fp32", CPU) == "fp32"
    assert describe_precision("bf16", CPU) == "bf16"


def test_autocast_runs_matmuls_in_bf16_only_when_asked():
    a, b = torch.rand(8, 16), torch.rand(16, 4)
    with autocast(CPU, True):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(CPU, False):
        assert (a @ b).dtype == torch.float32
    assert (a @ b).dtype == torch.float32  # nothing leaks out of the context


def test_channels_last_changes_the_layout_not_the_values():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=2, dilation=2)).eval()
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        expected = model(x)
    model_cl, x_cl = channels_last(model, x)
    assert x_cl.is_contiguous(memory_format=torch.channels_last) and not x_cl.is_contiguous()
    assert model_cl[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x_cl, x)
    with torch.no_grad():
        torch.testing.assert_close(model_cl(x_cl), expected, rtol=1e-5, atol=1e-6)

