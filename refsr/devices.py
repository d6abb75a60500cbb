"""Device choice: `auto` picks CUDA when available."""
from __future__ import annotations

import torch


def pick_device(device: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' -> torch.device; asking for cuda without one is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is available")
    return torch.device(device)
