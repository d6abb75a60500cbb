"""Inference speed of the refsr method per stage, and a naive per-patch path for comparison.

    python bench/speed.py [--device cpu cuda] [--repeats 3] [--lf-views 80] [--naive-patches 16]
                          [--precision auto|fp32|bf16] [--scaling] [--large]

Prints per-stage medians (after a warm-up) for one 1024x436 frame (synthetic content of Sintel's
size: speed does not depend on the pixels) and for the views of a 9x9 light field of 512x512,
peak memory, and the naive per-patch path (CC-Net on each patch's own input and reference window,
SS-Net one patch at a time, same precision) timed on `--naive-patches` patches and scaled to the
frame. `--scaling` adds how time grows with image area and with the search radius; `--large`
runs one 4000x3000 output once (run it alone: peak memory is the process's). Needs only torch
(no prefect, no zarr), so it runs on a bare GPU machine.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from refsr.degrade import SCALE, upsample
from refsr.devices import describe
from refsr.matching.search import SEARCH
from refsr.backproject import back_project
from refsr.methods import METHODS, refsr_models
from refsr.precision import PRECISIONS, autocast, describe_precision, use_bf16
from refsr.patches import (HR_PATCH, PATCH, gather, padded_lr_size, patch_centers, patch_grid, patch_origins,
                           reference_patches)
from refsr.synthesis import HALF_RF, RefSRModels, refsr_super_resolve
from refsr.timing import StageTimer

FRAME = (436, 1024)
VIEW = (512, 512)


def frame_pair(shape: tuple[int, int], device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    h, w = shape[0] - shape[0] % SCALE, shape[1] - shape[1] % SCALE
    ref = torch.rand(1, 3, h, w, generator=g).to(device)
    lr = torch.rand(1, 3, h // SCALE, w // SCALE, generator=g).to(device)
    return lr, ref


def timed_refsr(nets: RefSRModels, lr: torch.Tensor, ref: torch.Tensor, repeats: int, precision: str,
                search: int = SEARCH, warm_up: bool = True) -> dict[str, float]:
    """Median per-stage and end-to-end seconds over `repeats` runs after one warm-up; end to end is the refsr
    method's: synthesis, then its back-projection."""
    if warm_up:
        refsr_super_resolve(lr, ref, nets, search=search, precision=precision)
    runs = []
    for _ in range(repeats):
        timer = StageTimer(lr.device)
        with timer("end_to_end"):
            sr, _ = refsr_super_resolve(lr, ref, nets, search=search, timer=timer, precision=precision)
            with timer("back_projection"):
                back_project(sr, lr, METHODS["refsr"].back_project)
        runs.append(dict(timer.seconds))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


@torch.no_grad()
def naive_per_patch(nets: RefSRModels, lr: torch.Tensor, ref: torch.Tensor, patches: int, precision: str,
                    search: int = SEARCH) -> float:
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
    with autocast(lr.device, use_bf16(precision, lr.device)):
        for t in tops:
            c = patch_centers(t[None])[0]
            f = nets.ccnet(up_pad[..., c[0] : c[0] + 2 * HALF_RF + 1, c[1] : c[1] + 2 * HALF_RF + 1])[0, :, HALF_RF, HALF_RF]
            window = nets.ccnet(ref_pad[..., c[0] : c[0] + 2 * pad + 1, c[1] : c[1] + 2 * pad + 1])[0]
            window = window[:, HALF_RF:-HALF_RF, HALF_RF:-HALF_RF]
            best = torch.einsum("c,chw->hw", f, window).flatten().argmax()
            m = torch.stack([c[0] - search + best // (2 * search + 1), c[1] - search + best % (2 * search + 1)])
            m = torch.minimum(m.clamp_min(0), torch.as_tensor(ref.shape[-2:], device=m.device) - 1)
            f_lr = nets.srresnet_nn.body(lr[..., t[0] : t[0] + PATCH, t[1] : t[1] + PATCH])
            nets.ssnet(f_lr, reference_patches(ref[0], m[None], HR_PATCH), gather(bicubic, (t * SCALE)[None], HR_PATCH))
    sync()
    return (time.perf_counter() - start) / len(tops)


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (GPU, allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process max RSS)"


def run(device: torch.device, args: argparse.Namespace) -> None:
    nets = refsr_models(device)
    print(f"\n## {device.type}: {describe(device)}; precision {describe_precision(args.precision, device)}\n")
    lr, ref = frame_pair(FRAME, device)
    frame = timed_refsr(nets, lr, ref, args.repeats, args.precision)
    rows, cols = patch_grid(*padded_lr_size(*lr.shape[-2:]))
    naive = naive_per_patch(nets, lr, ref, args.naive_patches, args.precision) * rows * cols
    print(f"One {FRAME[1]}x{FRAME[0]} frame, {rows * cols} patches, search +-{SEARCH} px (median of {args.repeats}):\n")
    print("| stage | seconds |\n|---|---|")
    for stage, seconds in frame.items():
        print(f"| {stage} | {seconds:.3f} |")
    print(f"\nNaive per-patch path ({args.naive_patches} patches timed, scaled to the frame): {naive:.1f} s "
          f"-> speed-up {naive / frame['end_to_end']:.1f}x")
    lr, ref = frame_pair(VIEW, device, seed=1)
    view = timed_refsr(nets, lr, ref, args.repeats, args.precision)["end_to_end"]
    print(f"\n9x9 light field of {VIEW[0]}x{VIEW[1]}: {view:.3f} s per view -> {args.lf_views} views "
          f"{view * args.lf_views:.1f} s (one view timed, times {args.lf_views})")
    if args.scaling:
        scaling(nets, device, args)
    print(f"Peak memory: {peak_memory(device)}")


def scaling(nets: RefSRModels, device: torch.device, args: argparse.Namespace) -> None:
    """How end-to-end time grows with image area, and matching time with the search radius."""
    print(f"\nTime against image area (search +-{SEARCH} px, one run after the warm-up):\n")
    print("| output (WxH) | megapixels | seconds | s / MP |\n|---|---|---|---|")
    for shape in ((256, 256), (436, 512), (436, 1024), (872, 1024), (872, 2048)):
        lr, ref = frame_pair(shape, device, seed=2)
        seconds = timed_refsr(nets, lr, ref, 1, args.precision, warm_up=False)["end_to_end"]
        mp = shape[0] * shape[1] / 1e6
        print(f"| {shape[1]}x{shape[0]} | {mp:.2f} | {seconds:.3f} | {seconds / mp:.2f} |")
    print(f"\nTime against search radius ({FRAME[1]}x{FRAME[0]} frame, one run after the warm-up):\n")
    print("| search (px) | matching s | end-to-end s |\n|---|---|---|")
    lr, ref = frame_pair(FRAME, device)
    for search in (25, 50, 100, 200):
        t = timed_refsr(nets, lr, ref, 1, args.precision, search=search, warm_up=False)
        print(f"| {search} | {t['matching']:.3f} | {t['end_to_end']:.3f} |")


def large(device: torch.device, args: argparse.Namespace) -> None:
    """One 4000x3000 output (LR 500x375), once, with the process's peak memory."""
    nets = refsr_models(device)
    lr, ref = frame_pair((3000, 4000), device, seed=3)
    start = time.perf_counter()
    refsr_super_resolve(lr, ref, nets, precision=args.precision, progress=True)
    print(f"\n## {device.type}: {describe(device)}; precision {describe_precision(args.precision, device)}\n")
    print(f"One 4000x3000 output: {time.perf_counter() - start:.1f} s, peak memory {peak_memory(device)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lf-views", type=int, default=80)
    parser.add_argument("--naive-patches", type=int, default=16)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--scaling", action="store_true", help="also time against image area and search radius")
    parser.add_argument("--large", action="store_true", help="only one 4000x3000 output, with peak memory")
    args = parser.parse_args()
    for name in args.device:
        (large if args.large else run)(torch.device(name), args)


if __name__ == "__main__":
    main()
