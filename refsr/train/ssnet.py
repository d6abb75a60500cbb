"""Train SS-Net on (target, reference) pairs with frozen CC-Net matches and frozen SRResNet+NN features.

As in the paper, correspondence maps are recomputed for a small pool of augmented pairs every
`refresh` iterations rather than per step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from refsr import shipped
from refsr.archs.ssnet import SSNet
from refsr.degrade import SCALE, crop_to_multiple, degrade, upsample
from refsr.devices import pick_device
from refsr.matching.search import SEARCH
from refsr.matching.subpixel import degradation_blur, refine_matches
from refsr.metrics import psnr
from refsr.patches import (HR_PATCH, PATCH, gather, padded_lr_size, patch_centers, patch_grid, patch_origins,
                           reference_patches)
from refsr.precision import autocast
from refsr.synthesis import RefSRModels, match_centers, refsr_super_resolve
from refsr.tensors import to_image, to_tensor
from refsr.train.augment import symmetric_pair
from refsr.datasets import Pair, training_pairs, validation_pairs
from refsr.train import loop
from refsr.train.loop import Schedule, config_dict, fast_cuda, initialise, machine, total_iterations, use_amp



@dataclass
class Config:
    batch: int = 8
    lr: float = 1e-4
    search: int = SEARCH
    schedule: Schedule = field(default_factory=lambda: Schedule(30000, log_every=200, checkpoint_every=1000))
    pool: int = 4
    refresh: int = 25  # one of the 4 pooled pairs re-matched every 25 steps = all 4 per 100 (paper)
    seed: int = 0
    crop: int | None = None  # train on random HR crops of this side (CPU config) instead of whole images
    amp: bool = True  # bf16 autocast where native (loop.use_amp), the frozen nets too, as at inference


CONFIGS = {"paper": Config(),
           "cpu": Config(lr=2e-4, schedule=Schedule(30000, minutes=75, final_lr=0.1, log_every=200,
                                                    checkpoint_every=1000),
                         refresh=20, crop=256)}


@dataclass
class Prepared:
    f_lr: torch.Tensor  # (64, h, w) frozen SRResNet+NN features
    bicubic: torch.Tensor  # (3, 8h, 8w)
    hr: torch.Tensor  # (3, 8h, 8w) ground truth
    ref: torch.Tensor  # (3, H', W')
    tops: torch.Tensor  # (P, 2) LR patch corners
    matches: torch.Tensor  # (P, 2) float CC-Net matches of the patch centres, refined to sub-pixel


@torch.no_grad()
def prepare(pair: Pair, frozen: RefSRModels, rng: np.random.Generator, config: Config, device: torch.device,
            augment: bool = True) -> Prepared:
    """Augment (a symmetry of the square, 8x8 offset, optional crop), degrade, match every patch centre with CC-Net,
    refine. All 8 symmetries, as the patch orientations at inference (refsr/orientations.py) show SS-Net each."""
    bf16 = use_amp(config.amp, device)
    offset = (0, 0)
    if augment:
        pair = symmetric_pair(pair, int(rng.integers(8)))
        offset = tuple(int(v) for v in rng.integers(0, SCALE, size=2))
    target = crop_to_multiple(pair.target, SCALE, offset)
    reference, ref_origin = pair.reference, (0, 0)
    if config.crop:
        h, w = target.shape[:2]
        s = min(config.crop, h, w)
        y, x = int(rng.integers(0, h - s + 1)) // SCALE * SCALE, int(rng.integers(0, w - s + 1)) // SCALE * SCALE
        target = target[y : y + s, x : x + s]
        # The reference crop reaches `search` px beyond the target crop on every side, as at inference.
        m = config.search
        reference = np.pad(reference, ((m, m), (m, m), (0, 0)), mode="edge")[y : y + s + 2 * m, x : x + s + 2 * m]
        ref_origin = (m, m)
    lr = to_tensor(degrade(target), device)
    h, w = lr.shape[-2:]
    hp, wp = padded_lr_size(h, w)
    hr = F.pad(to_tensor(target, device), (0, (wp - w) * SCALE, 0, (hp - h) * SCALE), mode="replicate")[0]
    lr = F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate")
    ref = to_tensor(reference, device)
    rows, cols = patch_grid(hp, wp)
    tops = patch_origins(range(rows), cols, device)
    matches = match_centers(frozen.ccnet, upsample(lr, SCALE, "bilinear"), ref, patch_centers(tops), config.search,
                            bf16=bf16, ref_origin=ref_origin)
    matches = refine_matches(lr, degradation_blur(ref), tops, matches)
    with autocast(device, bf16):
        f_lr = frozen.srresnet_nn.body(lr)[0].float()
    return Prepared(f_lr, upsample(lr, SCALE, "bicubic")[0], hr, ref[0], tops, matches)


def sample(pool: list[Prepared], batch: int, rng: np.random.Generator):
    """(F_LR, reference patch, bicubic patch, HR patch) batches from random patches of the pool."""
    parts = []
    for _ in range(batch):
        p = pool[int(rng.integers(len(pool)))]
        i = int(rng.integers(len(p.tops)))
        t = p.tops[i : i + 1]
        parts.append((gather(p.f_lr, t, PATCH), reference_patches(p.ref, p.matches[i : i + 1], HR_PATCH),
                      gather(p.bicubic, t * SCALE, HR_PATCH), gather(p.hr, t * SCALE, HR_PATCH)))
    return [torch.cat(x) for x in zip(*parts)]


@torch.no_grad()
def validate(frozen: RefSRModels, pairs: list[Pair], device: torch.device, search: int, crop: int | None,
             precision: str = "fp32") -> dict:
    """PSNR of full RefSR reconstructions (mask fusion) against bicubic on the validation pairs."""
    frozen.ssnet.eval()
    sr_scores, bic_scores = [], []
    for pair in pairs:
        target = crop_to_multiple(pair.target[:crop, :crop] if crop else pair.target)
        lr = degrade(target)
        sr, _ = refsr_super_resolve(to_tensor(lr, device), to_tensor(pair.reference, device), frozen, search=search,
                                    precision=precision)
        sr_scores.append(psnr(to_image(sr[0]), target))
        bic_scores.append(psnr(to_image(upsample(to_tensor(lr, device), SCALE)[0]), target))
    frozen.ssnet.train()
    return {"val_psnr_refsr": float(np.mean(sr_scores)), "val_psnr_bicubic": float(np.mean(bic_scores))}


def train(config: Config, data_root: Path, out: Path, device: str = "auto", show_progress: bool = True,
          config_name: str = "custom", command: str = "", weights: Path | None = None, init: Path | None = None) -> dict:
    """Train SS-Net with frozen CC-Net and SRResNet+NN from `weights` (default: out); write `out/ssnet.pt`.

    `init`: SS-Net weights to start from (e.g. the shipped ones, to adapt them to a retrained CC-Net).
    """
    dev = pick_device(device)
    fast_cuda()
    amp = use_amp(config.amp, dev)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    weights = weights or out
    frozen_nets = {}
    for name in ("ccnet", "srresnet_nn"):
        frozen_nets[name] = shipped.load_file(name, weights / f"{name}.pt", dev).requires_grad_(False)
    ssnet = SSNet(check_alignment=False)  # the offsets learn unchecked (bench/results/design_notes.md)
    started_from = initialise(ssnet, init)
    ssnet = ssnet.to(dev).train()
    frozen = RefSRModels(frozen_nets["ccnet"], frozen_nets["srresnet_nn"], ssnet)
    real = training_pairs(data_root, with_truth=False)
    val = validation_pairs(data_root)
    opt = torch.optim.Adam(ssnet.parameters(), lr=config.lr)
    pool = [prepare(real[int(rng.integers(len(real)))], frozen, rng, config, dev) for _ in range(config.pool)]

    def step(i: int) -> dict[str, torch.Tensor]:
        if i % config.refresh == 0:
            pool[int(rng.integers(len(pool)))] = prepare(real[int(rng.integers(len(real)))], frozen, rng, config, dev)
        f_lr, ref, bic, hr = sample(pool, config.batch, rng)
        with autocast(dev, amp):
            out_rgb, _, _ = ssnet(f_lr, ref, bic)
        return {"ssnet": F.mse_loss(out_rgb.float(), hr)}

    run = loop.run("ssnet", config.schedule, out / "ssnet.ckpt", {"ssnet": ssnet}, {"ssnet": opt}, step,
                   show_progress=show_progress)
    final = validate(frozen, val, dev, config.search, config.crop, "bf16" if amp else "fp32")
    meta = {
        "network": "ssnet", "command": command, "config": config_name, "params": config_dict(config),
        "iterations": run.step, "init": started_from, "total_iterations": total_iterations(run.step, started_from),
        "train_seconds": run.seconds, "legs": run.legs, "device": machine(), "loss": "MSE",
        "precision": "bf16 autocast" if amp else "fp32",
        "augmentation": "one of the 8 symmetries of the square per pair, the 8x8 offset",
        "frozen": {n: shipped.sidecar_of(weights / f"{n}.pt").get("sha256") for n in frozen_nets},
        "data": {"root": str(data_root), "training": f"{len(real)} real pairs (Sintel t+1 from t, HCI views 3 apart, "
                 "Middlebury and Middlebury 2006 stereo pairs), no validation clip, view or scene",
                 "validation": sorted(p.name for p in val)},
        "final_train_loss": run.log[-1]["train_loss"] if run.log else None, **final,
        "log": run.log[-10:], "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    shipped.save(ssnet, out / "ssnet.pt", meta)
    return meta


def main(argv: list[str]) -> int:
    parser = loop.parser("ssnet", "Train SS-Net (needs ccnet and srresnet_nn weights).", CONFIGS)
    parser.add_argument("--weights", type=Path, help="folder with ccnet.pt and srresnet_nn.pt (default: --out)")
    loop.add_init_option(parser)
    args = parser.parse_args(argv)
    config = loop.configure(args, CONFIGS)
    meta = train(config, args.data, args.out, args.device, config_name=args.config,
                 command="refsr train ssnet " + " ".join(argv), weights=args.weights, init=args.init)
    print(f"ssnet: {meta['iterations']} iterations, validation PSNR {meta['val_psnr_refsr']:.2f} dB "
          f"(bicubic {meta['val_psnr_bicubic']:.2f} dB)")
    return 0
