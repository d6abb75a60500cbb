"""`refsr train chain`: every network from scratch, in the order each needs the others, in one resumable command.

SRResNet and SRResNet+NN first (SS-Net's frozen LR features), then CC-Net (the matcher), then SS-Net on that
CC-Net's matches and that SRResNet+NN's features, all in one `--out` folder. Each stage resumes from its
checkpoint there and a stage whose weights already hold its iterations is skipped, so the same command,
started again after a stop (Ctrl-C, `--minutes`, a config's own time limit), continues where the chain was.
"""
from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from refsr.datasets import DEFAULT_DATA
from refsr.errors import InputError
from refsr.shipped import sidecar_of

STAGES = ("srresnet", "ccnet", "ssnet")
# The weights each stage writes (SRResNet's stage trains both upsamplers).
OUTPUTS = {"srresnet": ("srresnet", "srresnet_nn"), "ccnet": ("ccnet",), "ssnet": ("ssnet",)}
NETWORKS = tuple(name for names in OUTPUTS.values() for name in names)


def target_iterations(stage: str, config: str, iterations: int | None) -> int:
    return iterations or importlib.import_module(f"refsr.train.{stage}").CONFIGS[config].schedule.iterations


def done_iterations(out: Path, stage: str) -> int:
    """The iterations the stage's weights in `out` hold (the least of its outputs; 0 where one is missing)."""
    return min(sidecar_of(out / f"{name}.pt").get("iterations", 0) for name in OUTPUTS[stage])


def summary(out: Path) -> list[str]:
    """One line per network in `out`: its iterations, its training minutes over every leg, its sidecar's validation."""
    lines = []
    for name in NETWORKS:
        made = sidecar_of(out / f"{name}.pt")
        minutes = sum(leg["seconds"] for leg in made.get("legs") or [{"seconds": made.get("train_seconds", 0)}]) / 60
        validation = ", ".join(f"{key} {value:.4g}" for key, value in made.items() if key.startswith("val_"))
        lines.append(f"  {name}: {made.get('iterations', 0)} iterations, {minutes:.1f} min of training"
                     + (f"; {validation}" if validation else ""))
    return lines


def check_out(out: Path, config: str) -> None:
    """Refuse an `out` holding weights that this chain did not make (other weights are never overwritten)."""
    for name in NETWORKS:
        made = sidecar_of(out / f"{name}.pt")
        if not made:
            continue
        if made.get("config") != config:
            reason = f"made with config {made.get('config')}"
        elif made.get("init"):
            reason = "started from other weights (--init)"
        else:
            continue
        raise InputError(out / f"{name}.json", f"{reason}, not by `refsr train chain --config {config}`; "
                                               "choose another --out")


def stage_argv(args: argparse.Namespace, minutes: float | None) -> list[str]:
    argv = ["--config", args.config, "--data", str(args.data), "--out", str(args.out), "--device", args.device,
            "--seed", str(args.seed)]
    if args.iterations:
        argv += ["--iterations", str(args.iterations)]
    if minutes is not None:
        argv += ["--minutes", f"{minutes:.6g}"]
    return argv


def parser() -> argparse.ArgumentParser:
    from refsr.train import ccnet, srresnet, ssnet

    configs = sorted(set(srresnet.CONFIGS) & set(ccnet.CONFIGS) & set(ssnet.CONFIGS))
    p = argparse.ArgumentParser(prog="refsr train chain", description="Train every network from scratch, "
                                "in the order each needs the others; stoppable and resumable.")
    p.add_argument("--config", choices=configs, default="cpu", help="every stage's config (default: %(default)s)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="one folder for every stage's weights and checkpoints")
    p.add_argument("--minutes", type=float, help="stop the whole chain after this wall time (resumable)")
    p.add_argument("--iterations", type=int, help="every stage's iteration count (default: each config's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str]) -> int:
    """Run the stages not yet done; 0 when the chain is complete or stopped on `--minutes` (the message says which).

    A stage that stops on its config's own time limit is resumed at once: the chain runs to its end unless
    `--minutes` (or Ctrl-C) stops it.
    """
    args = parser().parse_args(argv)
    if not args.data.is_dir():
        raise InputError(args.data, "no such data folder (--data)")
    check_out(args.out, args.config)
    started = time.time()
    for k, stage in enumerate(STAGES, 1):
        target = target_iterations(stage, args.config, args.iterations)
        held = done_iterations(args.out, stage)
        if held >= target:
            print(f"chain {k}/{len(STAGES)} {stage}: done ({target} iterations in {args.out}), skipped")
            continue
        print(f"chain {k}/{len(STAGES)} {stage}: {target} iterations into {args.out}", flush=True)
        while held < target:
            minutes = None if args.minutes is None else args.minutes - (time.time() - started) / 60
            if minutes is not None and minutes <= 0:
                print(f"chain: stopped in {stage} at {held} of {target} iterations (--minutes); "
                      "run the same command again to continue")
                return 0
            importlib.import_module(f"refsr.train.{stage}").main(stage_argv(args, minutes))
            before, held = held, done_iterations(args.out, stage)
            spent = args.minutes is not None and time.time() - started >= 60 * args.minutes
            if held <= before and held < target and not spent:
                raise RuntimeError(f"chain: {stage} made no progress past {held} of {target} iterations")
    print(f"chain: complete, every network's weights in {args.out}", *summary(args.out), sep="\n")
    return 0
