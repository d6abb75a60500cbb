"""Train SRResNet (sub-pixel) and SRResNet+NN on natural images: random 192x192 crops degraded x8 on the fly."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from refsr import shipped
from refsr.archs.srresnet import SRResNet
from refsr.degrade import SCALE, crop_to_multiple, downsample
from refsr.devices import pick_device
from refsr.metrics import psnr
from refsr.tensors import to_image, to_tensor
from refsr.datasets import natural_images, validation_pairs
from refsr.train import loop
from refsr.train.loop import Schedule, config_dict, fast_cuda, machine, use_amp

ARCH_NAMES = {"sub-pixel": "srresnet", "nn": "srresnet_nn"}


@dataclass
class Config:
    patch: int = 24  # LR patch side (HR 192)
    batch: int = 16
    lr: float = 1e-4
    schedule: Schedule = field(default_factory=lambda: Schedule(30000, log_every=200, checkpoint_every=1000))
    seed: int = 0
    amp: bool = True


CONFIGS = {"paper": Config(),
           "cpu": Config(patch=12, batch=8, schedule=Schedule(800, minutes=30, log_every=200, checkpoint_every=1000))}


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as the stored LR images are."""
    return x.mul(255).round().div(255)


def sample_batch(images: list[torch.Tensor], config: Config, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR, HR) float batches: random crop, rot90 and flip, degraded x8 as docs/method.md "Degradation" fixes it."""
    size = config.patch * SCALE
    crops = []
    for _ in range(config.batch):
        im = images[int(rng.integers(len(images)))]
        y, x = int(rng.integers(im.shape[1] - size + 1)), int(rng.integers(im.shape[2] - size + 1))
        crop = im[:, y : y + size, x : x + size]
        crop = torch.rot90(crop, int(rng.integers(4)), (1, 2))
        crops.append(crop.flip(2) if rng.random() < 0.5 else crop)
    hr = torch.stack(crops).float().div(255)
    return quantize(downsample(hr, SCALE)), hr


@torch.no_grad()
def validate(net: SRResNet, targets: list[np.ndarray], device: torch.device) -> float:
    """Mean PSNR (dB) on centre crops of the validation targets."""
    net.eval()
    scores = []
    for hr in targets:
        lr = quantize(downsample(to_tensor(hr, device)))
        scores.append(psnr(to_image(net(lr)[0]), hr))
    net.train()
    return float(np.mean(scores))


def _centre_crop(image: np.ndarray, size: int = 256) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return crop_to_multiple(image[y : y + size, x : x + size])


def train(config: Config, archs: list[str], data_root: Path, out: Path, device: str = "auto",
          show_progress: bool = True, config_name: str = "custom", command: str = "") -> dict:
    """Train the given archs side by side on the same batches; write `<name>.pt` + sidecar for each."""
    dev = pick_device(device)
    fast_cuda()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    images_np = [im for im in natural_images(data_root) if min(im.shape[:2]) >= config.patch * SCALE]
    images = [torch.as_tensor(im, device=dev).permute(2, 0, 1).contiguous() for im in images_np]
    val_targets = [_centre_crop(p.target) for p in validation_pairs(data_root)]
    nets = {a: SRResNet(a).to(dev).train() for a in archs}
    opts = {a: torch.optim.Adam(n.parameters(), lr=config.lr) for a, n in nets.items()}
    amp = use_amp(config.amp, dev)

    def step(i: int) -> dict[str, torch.Tensor]:
        lr, hr = sample_batch(images, config, rng)
        losses = {}
        for a, net in nets.items():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                losses[a] = F.mse_loss(net(lr).float(), hr)
        return losses

    def validation() -> dict:
        return {f"val_psnr_{a}": validate(n, val_targets, dev) for a, n in nets.items()}

    run = loop.run("srresnet", config.schedule, out / "srresnet.ckpt", nets, opts, step, validation, show_progress)
    metas = {}
    for a, net in nets.items():
        meta = {
            "network": ARCH_NAMES[a], "arch": a, "command": command, "config": config_name,
            "params": config_dict(config), "iterations": run.step, "train_seconds": run.seconds, "legs": run.legs,
            "device": machine(), "loss": "MSE on 8-bit-quantised LR",
            "data": {"root": str(data_root), "training": f"{len(images)} natural images (Set5, Set14, training Sintel "
                     "frames, training HCI views)", "validation": "256x256 centre crops of the validation targets"},
            "final_train_loss": run.log[-1][f"train_loss_{a}" if len(nets) > 1 else "train_loss"] if run.log else None,
            "val_psnr": validate(net, val_targets, dev), "log": run.log[-10:], "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        shipped.save(net, out / f"{ARCH_NAMES[a]}.pt", meta)
        metas[a] = meta
    return metas


def main(argv: list[str]) -> int:
    parser = loop.parser("srresnet", "Train SRResNet / SRResNet+NN (x8).", CONFIGS)
    parser.add_argument("--arch", choices=["sub-pixel", "nn", "both"], default="both")
    args = parser.parse_args(argv)
    config = loop.configure(args, CONFIGS)
    archs = ["sub-pixel", "nn"] if args.arch == "both" else [args.arch]
    metas = train(config, archs, args.data, args.out, args.device, config_name=args.config,
                  command="refsr train srresnet " + " ".join(argv))
    for a, meta in metas.items():
        print(f"{ARCH_NAMES[a]}: {meta['iterations']} iterations, validation PSNR {meta['val_psnr']:.2f} dB")
    return 0
