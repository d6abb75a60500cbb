"""What every trainer shares: the loop, its schedule (budget, decay, intervals), checkpoints, progress, logs."""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from refsr.datasets import DEFAULT_DATA
from refsr.devices import describe
from refsr.precision import native_bf16


@dataclass
class Schedule:
    """How long a trainer runs, how its learning rate decays, and how often it logs and checkpoints."""

    iterations: int
    minutes: float | None = None  # stop early when the wall clock runs out (the device lease)
    final_lr: float = 1.0  # cosine decay to this fraction of the initial rate at `iterations` (1: constant)
    log_every: int = 100
    checkpoint_every: int = 500  # also validates

    def done(self, step: int, started: float) -> bool:
        return step >= self.iterations or (self.minutes is not None and time.time() - started > 60 * self.minutes)

    def lr_factor(self, step: int) -> float:
        """Multiplier of the initial learning rate at `step` (a function of the step alone: resumable)."""
        t = min(step / max(self.iterations, 1), 1.0)
        return self.final_lr + (1 - self.final_lr) * 0.5 * (1 + math.cos(math.pi * t))


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


def save_checkpoint(path: Path, step: int, models: dict, optimizers: dict, log: list, legs: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "log": log, "legs": legs,
             "models": {k: m.state_dict() for k, m in models.items()},
             "optimizers": {k: o.state_dict() for k, o in optimizers.items()}}
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def load_checkpoint(path: Path, models: dict, optimizers: dict) -> tuple[int, list, list]:
    """Resume from `path` if it exists: returns (step, log, legs); else (0, [], [])."""
    if not path.is_file():
        return 0, [], []
    state = torch.load(path, map_location="cpu", weights_only=False)
    for k, m in models.items():
        m.load_state_dict(state["models"][k])
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    return state["step"], state["log"], state.get("legs", [])


def initialise(net: nn.Module, path: Path | None) -> dict | None:
    """Load starting weights (a .pt state dict) into `net`; returns what the sidecar records of them.

    A checkpoint in the output folder, loaded afterwards, still wins: resuming continues that run.
    Layers the weights do not have (added to the network since) keep their initialisation and are
    listed under "new_layers"; a weight the network does not have is an error.
    """
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file (--init)")
    missing, unexpected = net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=False)
    if unexpected:
        raise ValueError(f"{path}: not weights of this network (unexpected {', '.join(unexpected[:4])}...)")
    from refsr.shipped import sidecar_of

    side = sidecar_of(path)
    started = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
               "iterations": side.get("total_iterations", side.get("iterations"))}
    return {**started, "new_layers": sorted(missing)} if missing else started


def optimise(opt: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on `loss`; returns the loss value."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


@dataclass
class Run:
    """What `run` returns: the last step, the log, the seconds this process trained, and every leg of the run
    (one per process that trained it, resumed ones included: device, steps from and to, seconds)."""

    step: int
    log: list
    seconds: float
    legs: list


def run(name: str, schedule: Schedule, checkpoint: Path, models: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer], step_fn: Callable[[int], dict[str, torch.Tensor]],
        validate_fn: Callable[[], dict] | None = None, show_progress: bool = True) -> Run:
    """The training loop every trainer shares: resume, step, decay, log, validate, checkpoint.

    `step_fn(step)` returns one loss tensor per optimizer (same keys); each is stepped on its own.
    Every `log_every` steps the mean losses go to the log; every `checkpoint_every` steps and at the
    end `validate_fn()` is added and the checkpoint written, so an interrupted run resumes there.
    """
    step, log, legs = load_checkpoint(checkpoint, models, optimizers)
    first = step
    for opt in optimizers.values():
        for group in opt.param_groups:
            group.setdefault("initial_lr", group["lr"])
    started = time.time()
    bar = progress(schedule.iterations, step, name, show_progress)
    recent: dict[str, list[float]] = {k: [] for k in optimizers}
    while not schedule.done(step, started):
        for opt in optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * schedule.lr_factor(step)
        losses = step_fn(step)
        for k, opt in optimizers.items():
            recent[k].append(optimise(opt, losses[k]))
        step += 1
        bar.update(1)
        checkpoint_now = step % schedule.checkpoint_every == 0 or schedule.done(step, started)
        if step % schedule.log_every == 0 or checkpoint_now:
            entry = {"step": step, "seconds": round(time.time() - started, 1),
                     **{f"train_loss_{k}" if len(recent) > 1 else "train_loss": float(np.mean(v[-schedule.log_every:]))
                        for k, v in recent.items()}}
            if checkpoint_now and validate_fn is not None:
                entry.update(validate_fn())
            log.append(entry)
            bar.set_postfix({k: f"{v:.3g}" for k, v in entry.items() if k.startswith(("train_loss", "val_"))})
            if checkpoint_now:
                save_checkpoint(checkpoint, step, models, optimizers, log, legs + [leg(first, step, started)])
    bar.close()
    return Run(step, log, round(time.time() - started, 1), legs + [leg(first, step, started)])


def leg(first: int, step: int, started: float) -> dict:
    """This process's part of a run, as the sidecar records it."""
    return {"device": machine(), "from_step": first, "to_step": step, "seconds": round(time.time() - started, 1)}


def total_iterations(step: int, init: dict | None) -> int:
    """Iterations of this run plus those of the weights it started from."""
    return step + ((init or {}).get("iterations") or 0)


def progress(total: int, start: int, desc: str, enabled: bool = True) -> tqdm:
    return tqdm(total=total, initial=start, desc=desc, unit="it", disable=not enabled, mininterval=2.0)


def config_dict(config) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))


def parser(net: str, description: str, configs: dict) -> argparse.ArgumentParser:
    """The options every `refsr train NET` shares."""
    from refsr.shipped import WEIGHTS_DIR

    p = argparse.ArgumentParser(prog=f"refsr train {net}", description=description)
    p.add_argument("--config", choices=sorted(configs), default="cpu")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="where weights, sidecar and checkpoint go")
    p.add_argument("--iterations", type=int, help="override the config's iteration count")
    p.add_argument("--minutes", type=float, help="stop after this wall time (e.g. a device lease)")
    p.add_argument("--lr", type=float, help="override the config's initial learning rate")
    p.add_argument("--final-lr", type=float, metavar="FRACTION",
                   help="override the config's cosine decay: the learning rate ends at this fraction (1: constant)")
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
    if args.lr is not None:
        config = dataclasses.replace(config, lr=args.lr)
    config.schedule = dataclasses.replace(config.schedule, iterations=args.iterations or config.schedule.iterations,
                                          minutes=args.minutes or config.schedule.minutes,
                                          final_lr=config.schedule.final_lr if args.final_lr is None else args.final_lr)
    return config
