"""Inference precision: bfloat16 autocast and channels_last where the hardware runs them natively.

`auto` means bf16 on CUDA GPUs that support it and on CPUs with native bf16 instructions
(AVX512-BF16 / AMX), fp32 elsewhere (emulated bf16 is slower than fp32). Networks run in bf16;
matching scores, fusion and outputs stay float32.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively (not emulated)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe and probe())
    return False


def use_bf16(precision: str, device: torch.device) -> bool:
    """'auto' | 'fp32' | 'bf16' -> whether networks run under bf16 autocast on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` when `bf16`, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def channels_last(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """Model and input in channels_last memory order (oneDNN / cuDNN convolutions run fastest in it).

    Values are unchanged; only the memory layout differs. The speed-up as measured:
    bench/results/design_notes.md.
    """
    return model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


def describe_precision(precision: str, device: torch.device) -> str:
    """'auto (bf16 here)' style wording for benchmark reports."""
    resolved = "bf16" if use_bf16(precision, device) else "fp32"
    return f"{precision} ({resolved} here)" if precision == "auto" else precision
