"""Inference speed of the refsr method per stage, and a naive per-patch path for comparison.

    python bench/speed.py [--device cpu cuda] [--repeats 3] [--lf-views 80] [--naive-patches 32]

Prints per-stage medians (after a warm-up) for one 1024x436 frame (synthetic content of Sintel's
size: speed does not depend on the pixels) and for the views of a 9x9 light field of 512x512,
peak memory, and the naive per-patch path (CC-Net on each patch's own input and reference window,
SS-Net one patch at a time) timed on `--naive-patches` patches and scaled to the frame. Needs
only torch (no prefect, no zarr), so it runs on a bare GPU machine.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from refsr import models
from refsr.degrade import SCALE, upsample
from refsr.devices import describe
from refsr.patches import PATCH, gather, padded_lr_size, patch_grid, patch_origins
from refsr.synthesis import HALF_RF, RefSRModels, patch_centers, reference_patches, refsr_super_resolve
from refsr.timing import StageTimer

FRAME = (436, 1024)
VIEW = (512, 512)


def frame_pair(shape: tuple[int, int], device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    h, w = shape[0] - shape[0] % SCALE, shape[1] - shape[1] % SCALE
    ref = torch.rand(1, 3, h, w, generator=g).to(device)
    lr = torch.rand(1, 3, h // SCALE, w // SCALE, generator=g).to(device)
    return lr, ref


def timed_refsr(nets: RefSRModels, lr: torch.Tensor, ref: torch.Tensor, repeats: int) -> tuple[dict, float]:
    """Median per-stage and end-to-end seconds over `repeats` runs after one warm-up."""
    refsr_super_resolve(lr, ref, nets)
    runs = []
    for _ in range(repeats):
        timer = StageTimer(lr.device)
        with timer("end_to_end"):
            refsr_super_resolve(lr, ref, nets, timer=timer)
        runs.append(dict(timer.seconds))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


@torch.no_grad()
def naive_per_patch(nets: RefSRModels, lr: torch.Tensor, ref: torch.Tensor, patches: int, search: int = 100) -> float:
    """Seconds per patch of the naive path: every patch recomputes its own features, one at a time."""
    hp, wp = padded_lr_size(*lr.shape[-2:])
    rows, cols = patch_grid(hp, wp)
    tops = patch_origins(range(rows), cols, lr.device)[:: max(1, rows * cols // patches)][:patches]
    lr_up = upsample(lr, SCALE, "bilinear")
    pad = search + HALF_RF
    ref_pad = torch.nn.functional.pad(ref, (pad,) * 4)
    up_pad = torch.nn.functional.pad(lr_up, (HALF_RF,) * 4)
    bicubic = upsample(lr, SCALE, "bicubic")[0]
    sync = torch.cuda.synchronize if lr.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for t in tops:
        c = patch_centers(t[None])[0]
        f = nets.ccnet(up_pad[..., c[0] : c[0] + 2 * HALF_RF + 1, c[1] : c[1] + 2 * HALF_RF + 1])[0, :, HALF_RF, HALF_RF]
        window = nets.ccnet(ref_pad[..., c[0] : c[0] + 2 * pad + 1, c[1] : c[1] + 2 * pad + 1])[0]
        window = window[:, HALF_RF:-HALF_RF, HALF_RF:-HALF_RF]
        best = torch.einsum("c,chw->hw", f, window).flatten().argmax()
        m = torch.stack([c[0] - search + best // (2 * search + 1), c[1] - search + best % (2 * search + 1)])
        m = torch.minimum(m.clamp_min(0), torch.as_tensor(ref.shape[-2:], device=m.device) - 1)
        f_lr = nets.srresnet_nn.body(lr[..., t[0] : t[0] + PATCH, t[1] : t[1] + PATCH])
        nets.ssnet(f_lr, reference_patches(ref[0], m[None], PATCH * SCALE), gather(bicubic, (t * SCALE)[None], PATCH * SCALE))
    sync()
    return (time.perf_counter() - start) / len(tops)


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (GPU, allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process max RSS)"


def run(device: torch.device, repeats: int, lf_views: int, naive_patches: int) -> None:
    nets = RefSRModels(*(models.load(n, device) for n in ("ccnet", "srresnet_nn", "ssnet")))
    print(f"\n## {device.type}: {describe(device)}\n")
    lr, ref = frame_pair(FRAME, device)
    frame = timed_refsr(nets, lr, ref, repeats)
    rows, cols = patch_grid(*padded_lr_size(*lr.shape[-2:]))
    naive = naive_per_patch(nets, lr, ref, naive_patches) * rows * cols
    print(f"One {FRAME[1]}x{FRAME[0]} frame, {rows * cols} patches, search +-100 px (median of {repeats}):\n")
    print("| stage | seconds |\n|---|---|")
    for stage, seconds in frame.items():
        print(f"| {stage} | {seconds:.3f} |")
    print(f"\nNaive per-patch path ({naive_patches} patches timed, scaled to the frame): {naive:.1f} s "
          f"-> speed-up {naive / frame['end_to_end']:.1f}x")
    lr, ref = frame_pair(VIEW, device, seed=1)
    view = timed_refsr(nets, lr, ref, repeats)["end_to_end"]
    print(f"\n9x9 light field of {VIEW[0]}x{VIEW[1]}: {view:.3f} s per view -> {lf_views} views {view * lf_views:.1f} s "
          f"(one view timed, times {lf_views})")
    print(f"Peak memory: {peak_memory(device)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lf-views", type=int, default=80)
    parser.add_argument("--naive-patches", type=int, default=16)
    args = parser.parse_args()
    for name in args.device:
        run(torch.device(name), args.repeats, args.lf_views, args.naive_patches)


if __name__ == "__main__":
    main()
