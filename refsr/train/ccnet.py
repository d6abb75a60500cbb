"""Train CC-Net (docs/method.md "CC-Net training"): matching as classification, eq. (1), densely supervised.

One forward pass per crop pair: an input crop (upsampled LR) and a reference crop of the same
size, shifted by the crop's median displacement, go through the same network; every ground-truth
point inside the input crop is a query, scored against every position of the reference crop (a
softmax over `crop`^2 candidates, so wrong candidates lie up to a crop's side away, as far as
inference searches) with the true match as the class. Scores are cosine similarities (CC-Net's
features are unit vectors) over a temperature.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from refsr import shipped
from refsr.archs.ccnet import RECEPTIVE_FIELD, TEMPERATURE, CCNet
from refsr.degrade import SCALE, crop_to_multiple, degrade, upsample
from refsr.devices import pick_device
from refsr.tensors import to_tensor
from refsr.train.augment import rot90_pair, synthetic_pair
from refsr.datasets import Pair, matching_validation_pairs, natural_images, training_pairs
from refsr.train import loop
from refsr.train.loop import Schedule, config_dict, fast_cuda, initialise, machine, total_iterations, use_amp

HALF = RECEPTIVE_FIELD // 2  # context around a crop so that its features equal the whole image's


@dataclass
class Config:
    crop: int = 256  # side (HR px) of the query region and of the candidate region
    batch: int = 8  # crop pairs per step
    queries: int = 1024  # at most this many ground-truth points scored per crop pair
    temperature: float = TEMPERATURE
    lr: float = 1e-3
    schedule: Schedule = field(default_factory=lambda: Schedule(6000, final_lr=0.02))
    pool: int = 8  # prepared pairs held at once
    refresh: int = 2  # replace one pooled pair every `refresh` steps
    synthetic_share: float = 0.5
    bn_batches: int = 16  # training batches that re-estimate BatchNorm statistics before validating/saving
    val_crops: int = 48  # fixed validation crop pairs
    seed: int = 0
    amp: bool = True  # bf16 autocast where native (loop.use_amp)


CONFIGS = {
    "paper": Config(),
    # 2 CPU cores: one smaller crop pair per step.
    "cpu": Config(crop=192, batch=1, schedule=Schedule(2000, final_lr=0.02, log_every=50, checkpoint_every=250),
                  pool=4, refresh=4, bn_batches=16, val_crops=16),
}


@dataclass
class Prepared:
    """One augmented pair on the device: upsampled-LR target and HR reference, padded, with their points."""
    target: torch.Tensor
    reference: torch.Tensor
    centers: torch.Tensor  # (N, 2) long, padded input coordinates
    truth: torch.Tensor  # (N, 2) long, padded reference coordinates


@dataclass
class CropPair:
    """Network inputs of one crop pair and its supervision, in crop coordinates."""
    target: torch.Tensor  # (3, crop + 2 HALF, same): upsampled LR
    reference: torch.Tensor  # (3, crop + 2 HALF, same): HR
    queries: torch.Tensor  # (n, 2) long: query pixels in `target`'s feature map (HALF <= . < HALF + crop)
    labels: torch.Tensor  # (n,) long: index of the true match in the reference crop's interior, row-major


def prepare(pair: Pair, rng: np.random.Generator, crop: int, device: torch.device, augment: bool = True) -> Prepared | None:
    """rot90 + 8x8 offset, degrade the target x8, upsample bilinearly, pad both images by HALF + crop."""
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
    target_up = upsample(to_tensor(degrade(target), device), SCALE, "bilinear")[0]
    pad = HALF + crop
    return Prepared(F.pad(target_up, (pad,) * 4), F.pad(to_tensor(pair.reference, device)[0], (pad,) * 4),
                    torch.as_tensor(centers[keep] + pad, device=device),
                    torch.as_tensor(pair.truth[keep] + pad, device=device))


def crop_pair(p: Prepared, crop: int, queries: int, rng: np.random.Generator) -> CropPair | None:
    """A crop around a random point, the reference crop shifted by the median displacement, their labels."""
    j = int(rng.integers(len(p.centers)))
    top_in = p.centers[j] - crop // 2
    inside = ((p.centers >= top_in) & (p.centers < top_in + crop)).all(1)
    shift = (p.truth[inside] - p.centers[inside]).median(0).values
    # the reference crop stays inside the padded reference
    room = torch.tensor(p.reference.shape[-2:], device=shift.device) - crop - HALF
    top_ref = torch.minimum((top_in + shift).clamp_min(HALF), room)
    local = p.truth[inside] - top_ref
    valid = ((local >= 0) & (local < crop)).all(1)
    q = p.centers[inside][valid] - top_in + HALF
    local = local[valid]
    if len(q) == 0:
        return None
    if len(q) > queries:
        pick = torch.as_tensor(rng.choice(len(q), queries, replace=False), device=q.device)
        q, local = q[pick], local[pick]
    side = crop + 2 * HALF
    y0, x0 = (int(v) - HALF for v in top_in)
    ry, rx = (int(v) - HALF for v in top_ref)
    return CropPair(p.target[:, y0 : y0 + side, x0 : x0 + side], p.reference[:, ry : ry + side, rx : rx + side],
                    q, local[:, 0] * crop + local[:, 1])


def draw_crops(pool: list[Prepared], count: int, crop: int, queries: int, rng: np.random.Generator) -> list[CropPair]:
    """`count` crop pairs from random pooled pairs (a pair whose crop holds no valid point is drawn again)."""
    crops: list[CropPair] = []
    while len(crops) < count:
        c = crop_pair(pool[int(rng.integers(len(pool)))], crop, queries, rng)
        if c is not None:
            crops.append(c)
    return crops


def features(net: CCNet, crops: list[CropPair]) -> torch.Tensor:
    """(2B, 256, side, side) float32 features: the B inputs then the B references, in one forward pass.

    One pass for both branches so that BatchNorm sees one set of statistics (siamese, shared weights).
    """
    x = torch.stack([c.target for c in crops] + [c.reference for c in crops])
    if x.device.type == "cpu":  # oneDNN convolutions run fastest channels_last
        x = x.contiguous(memory_format=torch.channels_last)
    return net(x).float()


def dense_loss(net: CCNet, crops: list[CropPair], temperature: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. (1) over every query: softmax over the reference crop's interior. Returns (loss, hit flags)."""
    feats = features(net, crops)
    b = len(crops)
    logits, labels = [], []
    for i, c in enumerate(crops):
        query = feats[i][:, c.queries[:, 0], c.queries[:, 1]].T  # (n, C)
        candidates = feats[b + i][:, HALF:-HALF, HALF:-HALF].flatten(1)  # (C, crop^2)
        logits.append(query @ candidates / temperature)
        labels.append(c.labels)
    loss = sum(F.cross_entropy(s, t, reduction="sum") for s, t in zip(logits, labels)) / sum(len(t) for t in labels)
    crop = feats.shape[-1] - 2 * HALF
    best = torch.cat([s.argmax(1) for s in logits])
    truth = torch.cat(labels)
    error = torch.maximum((best // crop - truth // crop).abs(), (best % crop - truth % crop).abs())
    return loss, {"top1": error == 0, "within1": error <= 1}


@torch.no_grad()
def recalibrate_batchnorm(net: CCNet, batches: list[list[CropPair]], amp: bool) -> None:
    """Re-estimate BatchNorm running statistics as plain averages over `batches` (weights untouched).

    The running averages of training lag weights that keep moving; inference uses these instead.
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    net.train()
    device = batches[0][0].target.device
    for crops in batches:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            features(net, crops)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


@torch.no_grad()
def validate(net: CCNet, crops: list[CropPair], temperature: float, amp: bool) -> dict:
    """Cross-entropy and exact / <=1 px accuracy over every query of fixed validation crops (eval mode)."""
    net.eval()
    losses, counts, hits = [], [], {"top1": [], "within1": []}
    device = crops[0].target.device
    for c in crops:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss, hit = dense_loss(net, [c], temperature)
        losses.append(loss.item() * len(c.labels))
        counts.append(len(c.labels))
        for k in hits:
            hits[k].append(hit[k].float().sum().item())
    net.train()
    n = sum(counts)
    return {"val_loss": sum(losses) / n, **{f"val_{k}": sum(v) / n for k, v in hits.items()}}


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
    val_pairs = matching_validation_pairs(data_root)
    val_rng = np.random.default_rng(12345)
    val_pool = [v for v in (prepare(p, val_rng, config.crop, dev, augment=False) for p in val_pairs) if v]
    val_crops = draw_crops(val_pool, config.val_crops, config.crop, config.queries, val_rng)

    def draw() -> Prepared:
        while True:
            if rng.random() < config.synthetic_share:
                pair = synthetic_pair(images[int(rng.integers(len(images)))], rng)
            else:
                pair = real[int(rng.integers(len(real)))]
            prepared = prepare(pair, rng, config.crop, dev)
            if prepared is not None:
                return prepared

    net = net.to(dev).train()
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    amp = use_amp(config.amp, dev)
    pool = [draw() for _ in range(config.pool)]

    def step(i: int) -> dict[str, torch.Tensor]:
        if i % config.refresh == 0:
            pool[int(rng.integers(len(pool)))] = draw()
        crops = draw_crops(pool, config.batch, config.crop, config.queries, rng)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss, _ = dense_loss(net, crops, config.temperature)
        return {"net": loss}

    def calibrated_validation() -> dict:
        # A separate generator: calibration draws leave the training stream as a resumed run sees it.
        bn_rng = np.random.default_rng(config.seed + 1)
        recalibrate_batchnorm(net, [draw_crops(pool, config.batch, config.crop, config.queries, bn_rng)
                                    for _ in range(config.bn_batches)], amp)
        return validate(net, val_crops, config.temperature, amp)

    run = loop.run(name, config.schedule, out / f"{name}.ckpt", {"net": net}, {"net": opt}, step,
                   calibrated_validation, show_progress)
    final = run.log[-1] if run.log else validate(net, val_crops, config.temperature, amp)  # no step: weights as given
    meta = {
        "network": "ccnet", "command": command, "config": config_name, "params": config_dict(config),
        "iterations": run.step, "init": started_from, "total_iterations": total_iterations(run.step, started_from),
        "train_seconds": run.seconds, "legs": run.legs, "device": machine(),
        "supervision": "dense: every ground-truth point of a crop pair against every position of the reference crop; "
                       "cosine scores / temperature; BatchNorm statistics re-estimated before saving",
        "data": {"root": str(data_root), "training": f"{len(real)} real pairs with ground truth (Sintel flow, HCI "
                 f"disparity, Middlebury and Middlebury 2006 disparity) + synthetic warps of {len(images)} natural images",
                 "validation": sorted(p.name for p in val_pairs)},
        "final_train_loss": run.log[-1]["train_loss"] if run.log else None,
        **{k: v for k, v in final.items() if k.startswith("val_")},
        "log": run.log[-20:], "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    shipped.save(net, out / f"{name}.pt", meta)
    return meta


def main(argv: list[str]) -> int:
    parser = loop.parser("ccnet", "Train CC-Net (cross-scale correspondence).", CONFIGS)
    loop.add_init_option(parser)
    parser.add_argument("--temperature", type=float, help="override the config's softmax temperature on cosine scores")
    args = parser.parse_args(argv)
    config = loop.configure(args, CONFIGS)
    if args.temperature is not None:
        if args.temperature <= 0:
            parser.error(f"--temperature: must be positive, got {args.temperature}")
        config = dataclasses.replace(config, temperature=args.temperature)
    meta = train(config, args.data, args.out, args.device, config_name=args.config,
                 command="refsr train ccnet " + " ".join(argv), init=args.init)
    print(f"ccnet: {meta['iterations']} iterations, val_loss {meta['val_loss']:.3f}, val_top1 {meta['val_top1']:.3f}, "
          f"val_within1 {meta['val_within1']:.3f} -> {args.out / 'ccnet.pt'}")
    return 0
