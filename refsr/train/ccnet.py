"""Train CC-Net (method.md): matching as classification over a (2r+1)^2 window, eq. (1) cross-entropy.

An input patch centred on a point and a reference patch centred on its true match go through the
same network; the centre feature of the input is scored against every valid reference position.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from refsr import models
from refsr.archs.ccnet import RECEPTIVE_FIELD, CCNet
from refsr.degrade import SCALE, crop_to_multiple, degrade, upsample
from refsr.devices import pick_device
from refsr.patches import gather
from refsr.tensors import to_tensor
from refsr.train.augment import rot90_pair, synthetic_pair
from refsr.train.data import Pair, natural_images, training_pairs, validation_pairs
from refsr.train import loop
from refsr.train.loop import (Budget, config_dict, fast_cuda, initialise, load_checkpoint, machine, optimise,
                              progress, save_checkpoint, total_iterations, use_amp)

HALF = RECEPTIVE_FIELD // 2


@dataclass
class Config:
    radius: int = 64  # candidates +-radius: reference patch 65 + 2 radius (paper: 193 -> 129x129)
    batch: int = 16
    lr: float = 1e-3
    budget: Budget = field(default_factory=lambda: Budget(30000))
    pool: int = 4  # prepared pairs held at once
    refresh: int = 25  # replace one pooled pair every `refresh` steps
    synthetic_share: float = 0.5
    seed: int = 0
    amp: bool = True  # bf16 autocast where native (loop.use_amp)
    val_points: int = 1024  # validation points scored at the end (a quarter of them every 500 steps)


CONFIGS = {
    "paper": Config(),
    # 2 CPU cores: smaller window (97x97 reference patch, 33x33 candidates) and far fewer steps.
    "cpu": Config(radius=16, batch=8, budget=Budget(600, minutes=40), refresh=10),
}


@dataclass
class Prepared:
    """One augmented pair on the device: padded upsampled-LR input, padded HR reference, points."""
    inp: torch.Tensor
    ref: torch.Tensor
    centers: torch.Tensor
    truth: torch.Tensor


def prepare(pair: Pair, rng: np.random.Generator, radius: int, device: torch.device, augment: bool = True) -> Prepared | None:
    """rot90 + 8x8 offset, degrade the target x8, upsample bilinearly, pad both images for patch crops."""
    if augment:
        pair = rot90_pair(pair, int(rng.integers(4)))
        oy, ox = (int(v) for v in rng.integers(0, SCALE, size=2))
    else:
        oy = ox = 0
    target = crop_to_multiple(pair.target, SCALE, (oy, ox))
    centers = pair.centers - np.array([oy, ox])
    keep = (centers[:, 0] >= 0) & (centers[:, 0] < target.shape[0]) & (centers[:, 1] >= 0) & (centers[:, 1] < target.shape[1])
    if keep.sum() == 0:
        return None
    inp = upsample(to_tensor(degrade(target), device), SCALE, "bilinear")[0]
    pad = HALF + radius
    return Prepared(
        F.pad(inp, (pad,) * 4),
        F.pad(to_tensor(pair.reference, device)[0], (pad,) * 4),
        torch.as_tensor(centers[keep], device=device),
        torch.as_tensor(pair.truth[keep], device=device),
    )


def sample(pool: list[Prepared], batch: int, radius: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` (input patch, reference patch) couples, both of side 65 + 2 radius, centred on point and truth."""
    size = RECEPTIVE_FIELD + 2 * radius
    inputs, refs = [], []
    for k in np.array_split(rng.integers(len(pool), size=batch), len(pool)):
        for i in k:
            p = pool[i]
            j = int(rng.integers(len(p.centers)))
            # The input patch has the reference's size too (zeros beyond the image), see batch_loss.
            inputs.append(gather(p.inp, p.centers[j : j + 1], size))
            refs.append(gather(p.ref, p.truth[j : j + 1], size))
    return torch.cat(inputs), torch.cat(refs)


def batch_loss(net: CCNet, inputs: torch.Tensor, refs: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (1): softmax over the (2r+1)^2 reference positions, target = the centre. Returns (loss, top-1 hits)."""
    # One forward for both branches so BatchNorm sees one set of statistics (siamese, shared weights).
    x = torch.cat([inputs, refs])
    if x.device.type == "cpu":  # oneDNN convolutions run fastest channels_last (about 1.6x here)
        x = x.contiguous(memory_format=torch.channels_last)
    feats = net(x).float()
    b = inputs.shape[0]
    c = radius + HALF
    f = feats[:b, :, c, c]
    g = feats[b:, :, HALF:-HALF, HALF:-HALF]
    scores = torch.einsum("bc,bchw->bhw", f, g).flatten(1)
    target = torch.full((b,), radius * (2 * radius + 1) + radius, device=scores.device)
    return F.cross_entropy(scores, target), (scores.argmax(1) == target).float()


@torch.no_grad()
def validate(net: CCNet, pool: list[Prepared], radius: int, points: int = 256, seed: int = 1, amp: bool = False) -> dict:
    """Cross-entropy and top-1 (exact) accuracy on fixed validation points."""
    net.eval()
    rng = np.random.default_rng(seed)
    losses, hits = [], []
    for _ in range(max(1, points // 32)):
        inputs, refs = sample(pool, 32, radius, rng)
        with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=amp):
            loss, hit = batch_loss(net, inputs, refs, radius)
        losses.append(loss.item())
        hits.append(hit.mean().item())
    net.train()
    return {"val_loss": float(np.mean(losses)), "val_top1": float(np.mean(hits))}


def train(config: Config, data_root: Path, out: Path, device: str = "auto", show_progress: bool = True,
          name: str = "ccnet", config_name: str = "custom", command: str = "", init: Path | None = None) -> dict:
    """Train CC-Net and write `out/<name>.pt` + sidecar; resumes from `out/<name>.ckpt`; starts from `init` if given."""
    dev = pick_device(device)
    fast_cuda()
    torch.manual_seed(config.seed)
    net = CCNet()
    started_from = initialise(net, init)  # first: a wrong path fails before any data is read
    rng = np.random.default_rng(config.seed)
    real = [p for p in training_pairs(data_root) if len(p.centers)]
    images = natural_images(data_root)
    val_rng = np.random.default_rng(12345)
    val_pool = [v for v in (prepare(p, val_rng, config.radius, dev, augment=False) for p in validation_pairs(data_root)) if v]

    def draw() -> Prepared:
        while True:
            if rng.random() < config.synthetic_share:
                pair = synthetic_pair(images[int(rng.integers(len(images)))], rng)
            else:
                pair = real[int(rng.integers(len(real)))]
            prepared = prepare(pair, rng, config.radius, dev)
            if prepared is not None:
                return prepared

    net = net.to(dev).train()
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    ckpt = out / f"{name}.ckpt"
    step, log = load_checkpoint(ckpt, {"net": net}, {"opt": opt})
    pool = [draw() for _ in range(config.pool)]
    started = time.time()
    bar = progress(config.budget.iterations, step, "ccnet", show_progress)
    amp = use_amp(config.amp, dev)
    recent = []
    while not config.budget.done(step, started):
        if step % config.refresh == 0:
            pool[int(rng.integers(len(pool)))] = draw()
        inputs, refs = sample(pool, config.batch, config.radius, rng)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss, hit = batch_loss(net, inputs, refs, config.radius)
        recent.append(optimise(opt, loss))
        step += 1
        bar.update(1)
        if step % 100 == 0 or config.budget.done(step, started):
            entry = {"step": step, "train_loss": float(np.mean(recent[-100:])), "seconds": round(time.time() - started, 1)}
            if step % 500 == 0 or config.budget.done(step, started):
                entry.update(validate(net, val_pool, config.radius, points=max(32, config.val_points // 4), amp=amp))
                save_checkpoint(ckpt, step, {"net": net}, {"opt": opt}, log)
            log.append(entry)
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}")
    bar.close()
    final = validate(net, val_pool, config.radius, points=config.val_points, amp=amp)
    meta = {
        "network": "ccnet", "command": command, "config": config_name, "params": config_dict(config),
        "iterations": step, "init": started_from, "total_iterations": total_iterations(step, started_from),
        "train_seconds": round(time.time() - started, 1), "device": machine(),
        "data": {"root": str(data_root), "training": f"{len(real)} real pairs with ground truth (Sintel flow, HCI disparity, "
                 f"Middlebury disparity) + synthetic warps of {len(images)} natural images",
                 "validation": sorted({p.name for p in validation_pairs(data_root)})},
        "final_train_loss": log[-1]["train_loss"] if log else None, **final,
        "log": log[-20:], "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    models.save(net, out / f"{name}.pt", meta)
    save_checkpoint(ckpt, step, {"net": net}, {"opt": opt}, log)
    return meta


def main(argv: list[str]) -> int:
    parser = loop.parser("ccnet", "Train CC-Net (cross-scale correspondence).", CONFIGS)
    loop.add_init_option(parser)
    args = parser.parse_args(argv)
    config = loop.configure(args, CONFIGS)
    meta = train(config, args.data, args.out, args.device, config_name=args.config,
                 command="refsr train ccnet " + " ".join(argv), init=args.init)
    print(f"ccnet: {meta['iterations']} iterations, val_loss {meta['val_loss']:.3f}, val_top1 {meta['val_top1']:.3f}"
          f" -> {args.out / 'ccnet.pt'}")
    return 0
