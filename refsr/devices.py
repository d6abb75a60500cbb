"""Device choice: `auto` picks CUDA when available."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def pick_device(device: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' -> torch.device; asking for cuda without one is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is available")
    return torch.device(device)


def describe(device: torch.device | str = "cpu") -> str:
    """The machine in words, for benchmark tables and weight sidecars: GPU name or CPU model, cores, torch."""
    device = torch.device(device)
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    host = f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}; host {host}"
    return f"CPU only: {host}"
