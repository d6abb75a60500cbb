"""What every trainer shares: configs with a time budget, checkpoints for resuming, progress, logs."""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm


@dataclass
class Budget:
    iterations: int
    minutes: float | None = None  # stop early when the wall clock runs out (the device lease)

    def done(self, step: int, started: float) -> bool:
        return step >= self.iterations or (self.minutes is not None and time.time() - started > 60 * self.minutes)


def fast_cuda() -> None:
    """cuDNN autotuning and TF32 matmuls for training on a GPU (no effect on CPU)."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}; torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()} CPU x{torch.get_num_threads()} threads; torch {torch.__version__}"


def save_checkpoint(path: Path, step: int, models: dict, optimizers: dict, log: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "log": log,
             "models": {k: m.state_dict() for k, m in models.items()},
             "optimizers": {k: o.state_dict() for k, o in optimizers.items()}}
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def load_checkpoint(path: Path, models: dict, optimizers: dict) -> tuple[int, list]:
    """Resume from `path` if it exists: returns (step, log); else (0, [])."""
    if not path.is_file():
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=False)
    for k, m in models.items():
        m.load_state_dict(state["models"][k])
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    return state["step"], state["log"]


def progress(total: int, start: int, desc: str, enabled: bool = True) -> tqdm:
    return tqdm(total=total, initial=start, desc=desc, unit="it", disable=not enabled, mininterval=2.0)


def config_dict(config) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))
