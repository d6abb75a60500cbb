"""Per-stage wall-clock timing (device-synchronised) for benchmarks and pipeline reports."""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

import torch


class StageTimer:
    """`with timer("stage"): ...` adds the stage's seconds to `timer.seconds[stage]`."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.cuda = torch.device(device).type == "cuda"
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        yield
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds[stage] += time.perf_counter() - start


class NoTimer:
    """A timer that measures nothing (the default: no device synchronisation)."""

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        yield
