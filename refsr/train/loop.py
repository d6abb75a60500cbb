"""What every trainer shares: configs with a time budget, checkpoints for resuming, progress, logs."""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from refsr.devices import describe
from refsr.precision import native_bf16
from refsr.train.data import DEFAULT_DATA


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


def use_amp(amp: bool, device: torch.device) -> bool:
    """bf16 autocast for training where the device runs bf16 natively (CUDA; CPUs with AVX512-BF16/AMX)."""
    return amp and native_bf16(device)


def machine() -> str:
    """The training machine in words (GPU when training there)."""
    return describe("cuda" if torch.cuda.is_available() else "cpu")


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


def initialise(net: nn.Module, path: Path | None) -> dict | None:
    """Load starting weights (a .pt state dict) into `net`; returns what the sidecar records of them.

    A checkpoint in the output folder, loaded afterwards, still wins: resuming continues that run.
    """
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file (--init)")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    from refsr.models import sidecar_of

    side = sidecar_of(path)
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "iterations": side.get("total_iterations", side.get("iterations"))}


def optimise(opt: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on `loss`; returns the loss value."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def total_iterations(step: int, init: dict | None) -> int:
    """Iterations of this run plus those of the weights it started from."""
    return step + ((init or {}).get("iterations") or 0)


def progress(total: int, start: int, desc: str, enabled: bool = True) -> tqdm:
    return tqdm(total=total, initial=start, desc=desc, unit="it", disable=not enabled, mininterval=2.0)


def config_dict(config) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))


def parser(net: str, description: str, configs: dict) -> argparse.ArgumentParser:
    """The options every `refsr train NET` shares."""
    from refsr.models import WEIGHTS_DIR

    p = argparse.ArgumentParser(prog=f"refsr train {net}", description=description)
    p.add_argument("--config", choices=sorted(configs), default="cpu")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: ../shared/data)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="where weights, sidecar and checkpoint go")
    p.add_argument("--iterations", type=int, help="override the config's iteration count")
    p.add_argument("--minutes", type=float, help="stop after this wall time (e.g. a device lease)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    return p


def add_init_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--init", type=Path, metavar="WEIGHTS.pt",
                   help="start from these weights instead of random ones, e.g. refsr/weights/ccnet.pt to "
                        "train the shipped network further (a checkpoint in --out still takes precedence)")


def configure(args: argparse.Namespace, configs: dict):
    """The chosen config with the seed and the budget the command line asked for."""
    config = dataclasses.replace(configs[args.config], seed=args.seed)
    config.budget = Budget(args.iterations or config.budget.iterations, args.minutes or config.budget.minutes)
    return config
