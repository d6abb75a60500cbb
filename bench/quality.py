"""The paper's Table 3 on the validation split: PSNR / PSNR-Y / SSIM of every method, x8.

    python bench/quality.py [--data ../shared/data] [--device auto] [--methods ...] [--picture PATH]

Pairs (refsr.datasets.validation_pairs, never used for training): the Sintel VALIDATION_CLIPS,
frame t+1 super-resolved with frame t as reference (final pass; `--passes final clean` adds the
clean pass), the HCI light-field view LF_QUALITY_PAIR[0] from the reference view LF_QUALITY_PAIR[1],
and the Middlebury 2006 stereo scene STEREO_VALIDATION_SCENE, view1 from view5. The HR target is cropped
to a multiple of 8 and degraded by refsr.degrade (antialiased bicubic x8); the metrics leave an
8-pixel border out (refsr.metrics). Each set is averaged separately. Seconds are wall time of one
`super_resolve` call per image (networks loaded beforehand). Prints a Markdown table; needs neither prefect nor zarr.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from refsr import shipped
from refsr.degrade import crop_to_multiple, degrade
from refsr.devices import describe, pick_device
from refsr.io.images import read_image
from refsr.baselines.oracle_warp import oracle_warp_super_resolve
from refsr.io.sintel import RENDER_PASSES
from refsr.methods import METHODS, refsr_models, super_resolve
from refsr.correspondence import correspondence_map
from refsr.synthesis import RefSRModels, refsr_super_resolve
from refsr.matching.vote import VOTE_SPACING
from refsr.orientations import ORIENTATIONS
from refsr.backproject import back_project
from refsr.tensors import to_image, to_tensor
from refsr.metrics import psnr, psnr_y, ssim
from refsr.precision import PRECISIONS, describe_precision
from refsr.datasets import (DEFAULT_DATA, LF_QUALITY_PAIR, SR_BENCHMARKS, dense_ground_truth, describe_quality_split,
                            lightfield_pair_name, validation_pairs)

# Table 3 rows: label -> (refsr.methods method, fusion, back-projection iterations or None = the method's
# default, kind: "real" | "grey" | "unrelated" reference, "no-offset" | "no-alignment-check" | "no-agreement" |
# "no-vote" | "no-subpixel" | "one-orientation" (the --ablate-reference rows),
# "ensemble" (the real reference, the method's flip ensemble))
ROWS: dict[str, tuple[str, str, int | None, str]] = {
    "bicubic": ("bicubic", "mask", None, "real"),
    "srresnet": ("srresnet", "mask", None, "real"),
    "srresnet-nn": ("srresnet-nn", "mask", None, "real"),
    "srresnet-nn-sliding": ("srresnet-nn-sliding", "mask", None, "real"),
    "exemplar": ("exemplar", "mask", None, "real"),
    "flow-warp-no-bp": ("flow-warp", "mask", 0, "real"),
    "flow-warp": ("flow-warp", "mask", None, "real"),
    "refsr-average": ("refsr", "average", None, "real"),
    "refsr-mask": ("refsr", "mask", None, "real"),
    "refsr-mask-no-bp": ("refsr", "mask", 0, "real"),
    "refsr-mask-ensemble": ("refsr", "mask", None, "ensemble"),
}
ABLATIONS: dict[str, tuple[str, str, int | None, str]] = {
    "refsr-mask-grey": ("refsr", "mask", None, "grey"),
    "refsr-mask-unrelated": ("refsr", "mask", None, "unrelated"),
    "refsr-mask-no-offset": ("refsr", "mask", None, "no-offset"),
    "refsr-mask-no-alignment-check": ("refsr", "mask", None, "no-alignment-check"),
    "refsr-mask-no-agreement": ("refsr", "mask", None, "no-agreement"),
    "refsr-mask-no-vote": ("refsr", "mask", None, "no-vote"),
    "refsr-mask-no-subpixel": ("refsr", "mask", None, "no-subpixel"),
    "refsr-mask-one-orientation": ("refsr", "mask", None, "one-orientation"),
}
# Ground-truth correspondence (Sintel flow, HCI disparity) in place of matching, where the pair has it.
ORACLES: dict[str, tuple[str, str, int | None, str]] = {
    "refsr-mask-oracle": ("refsr", "mask", None, "oracle"),
    "oracle-warp": ("oracle-warp", "mask", 0, "oracle"),
}
ALL_ROWS = {**ROWS, **ABLATIONS, **ORACLES}
UNRELATED = SR_BENCHMARKS / "Set14" / "baboon.png"  # an unrelated scene, tiled to the reference's size
PICTURE = ("truth", "bicubic", "flow-warp", "refsr-mask")  # panels of --picture, left to right
LABELS = {  # rows that run a method as it is take its label
    **{m: METHODS[m].label for m in ("bicubic", "srresnet", "srresnet-nn", "srresnet-nn-sliding", "exemplar")},
    "flow-warp-no-bp": "Flow-warp (OpenCV DIS), no back-projection",
    "flow-warp": "Flow-warp (OpenCV DIS) + 10 back-projection iterations",
    "refsr-average": "RefSR-Net (average fusion)",
    "refsr-mask": "RefSR-Net (mask fusion)",
    "refsr-mask-no-bp": "RefSR-Net (mask fusion), no back-projection (`--back-project 0`)",
    "refsr-mask-ensemble": "RefSR-Net (mask fusion), flip ensemble (`--ensemble`)",
    "refsr-mask-grey": "RefSR-Net (mask), reference = constant grey",
    "refsr-mask-unrelated": "RefSR-Net (mask), reference = unrelated scene (Set14 baboon)",
    "refsr-mask-no-offset": "RefSR-Net (mask), learned alignment off (SS-Net offset head zeroed)",
    "refsr-mask-no-alignment-check": "RefSR-Net (mask), learned alignment taken everywhere (its check off)",
    "refsr-mask-no-agreement": "RefSR-Net (mask), patches fused by their masks alone (agreement weight off)",
    "refsr-mask-no-vote": "RefSR-Net (mask), CC-Net matches without the neighbourhood vote",
    "refsr-mask-no-subpixel": "RefSR-Net (mask), whole-pixel matches (sub-pixel refinement off)",
    "refsr-mask-one-orientation": "RefSR-Net (mask), every patch synthesised as it is (orientations off)",
    "refsr-mask-oracle": "RefSR-Net (mask), ground-truth matches instead of CC-Net's (oracle)",
    "oracle-warp": "Oracle warp: reference pixels along ground truth, bicubic where unknown",
}
PAPER = {  # Table 3 of the paper, PSNR dB (Sintel / LF video); not the same data or degradation
    "bicubic": (30.59, 30.32), "srresnet": (33.15, 31.40), "srresnet-nn": (33.68, 31.72),
    "srresnet-nn-sliding": (33.75, 31.80), "exemplar": (35.72, 37.96), "refsr-mask": (38.03, 38.88),
}
LF_PAIR = lightfield_pair_name(*LF_QUALITY_PAIR)


def weights_of(method: str) -> tuple[str, ...]:
    """The shipped networks a row's method needs (the oracle warp is not in refsr.methods and needs none)."""
    return METHODS[method].weights if method in METHODS else ()


def pick_crop(truth: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left of the size x size window (on an 8-px grid, 16 px from the border) with the most gradient energy.

    Chosen from the ground truth alone, not from any method's result.
    """
    g = truth.astype(np.float64).mean(2)
    energy = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1]
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, where = -1.0, (16, 16)
    for y in range(16, energy.shape[0] - size - 16, 8):
        for x in range(16, energy.shape[1] - size - 16, 8):
            s = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
            if s > best:
                best, where = s, (y, x)
    return where


def write_picture(path: Path, panels: list[np.ndarray], where: tuple[int, int], size: int, gap: int = 4) -> None:
    import imageio.v3 as iio

    y, x = where
    crops = [p[y : y + size, x : x + size] for p in panels]
    strip = np.full((size, len(crops) * size + (len(crops) - 1) * gap, 3), 255, np.uint8)
    for i, c in enumerate(crops):
        strip[:, i * (size + gap) : i * (size + gap) + size] = c
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, strip, **({"optimize": True} if path.suffix.lower() == ".png" else {"quality": 92}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data root")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="refsr networks (default %(default)s)")
    parser.add_argument("--methods", nargs="+", default=list(ROWS), choices=list(ROWS) + list(ABLATIONS),
                        metavar="METHOD",
                        help=f"rows to run (default all): {' '.join(ROWS)}")
    parser.add_argument("--passes", nargs="+", default=["final"], choices=RENDER_PASSES,
                        help="Sintel passes (default: final)")
    parser.add_argument("--no-sintel", action="store_true", help="leave Sintel out")
    parser.add_argument("--no-lightfield", action="store_true", help="leave the light field out")
    parser.add_argument("--no-stereo", action="store_true", help="leave the stereo pair out")
    parser.add_argument("--sliding-sintel", type=int, default=None, metavar="N",
                        help="run srresnet-nn-sliding on only the first N Sintel pairs of each pass (slow on a CPU)")
    parser.add_argument("--picture", type=Path, default=None, help="write GT / bicubic / flow-warp / RefSR crops here")
    parser.add_argument("--picture-pair", default=LF_PAIR, help=f"pair name of the picture (default {LF_PAIR})")
    parser.add_argument("--crop", type=int, default=160, help="side of the picture crops in HR pixels")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-pair scores here")
    parser.add_argument("--sintel-pairs", type=int, default=None, metavar="N",
                        help="only the first N Sintel pairs of each pass (for a quicker run)")
    parser.add_argument("--ablate-reference", action="store_true",
                        help="add RefSR with the reference replaced by grey and by an unrelated scene, and "
                             "RefSR with one of its parts switched off (ABLATIONS)")
    parser.add_argument("--oracle", action="store_true",
                        help="add RefSR fed ground-truth matches and the oracle warp (pairs with ground truth only)")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not data.is_dir():
        parser.error(f"data root {data} not found")
    device = pick_device(args.device)
    methods = (list(args.methods) + (list(ABLATIONS) if args.ablate_reference else [])
               + (list(ORACLES) if args.oracle else []))
    unrelated = read_image(data / UNRELATED)
    if args.picture:
        methods += [m for m in PICTURE[1:] if m not in methods]
    for m in methods:  # load the networks once, outside the timings
        for name in weights_of(ALL_ROWS[m][0]):
            shipped.load(name, device)

    pairs = [p for p in validation_pairs(data)
             if (p.dataset == "sintel" and not args.no_sintel and p.render_pass in args.passes)
             or (p.dataset == "lightfield" and not args.no_lightfield)
             or (p.dataset == "stereo" and not args.no_stereo)]
    if args.sintel_pairs is not None:
        keep = {p.name for passname in args.passes
                for p in [q for q in pairs if q.render_pass == passname][: args.sintel_pairs]}
        pairs = [p for p in pairs if p.dataset != "sintel" or p.name in keep]
    if not pairs:
        parser.error("no validation pairs selected")
    start = dt.datetime.now()
    results: list[dict] = []
    seen: dict[str, int] = {}
    picture_panels: dict[str, np.ndarray] = {}
    for pair in pairs:
        group = pair.group
        seen[group] = seen.get(group, 0) + 1
        truth = crop_to_multiple(pair.target)
        lr = degrade(pair.target)
        for m in methods:
            if (m == "srresnet-nn-sliding" and group.startswith("Sintel") and args.sliding_sintel is not None
                    and seen[group] > args.sliding_sintel):
                continue
            method, fusion, back_project, kind = ALL_ROWS[m]
            if kind == "oracle":
                known = ground_truth_matches(pair.name, data, truth.shape[:2])
                if known is None:
                    continue
            t0 = time.perf_counter()
            if kind == "oracle":
                sr = oracle_super_resolve(lr, pair.reference, method, known, device, args.precision)
            elif kind in ("no-offset", "no-alignment-check", "no-agreement", "no-vote", "no-subpixel",
                          "one-orientation"):
                sr = ablated_super_resolve(lr, pair.reference, fusion, kind, device, args.precision)
            else:
                options = METHODS[method].applicable({"fusion": fusion, "precision": args.precision,
                                                      "ensemble": kind == "ensemble"})
                sr = super_resolve(lr, replaced_reference(pair.reference, kind, unrelated), method,
                                   device=str(device), back_project=back_project, **options)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - t0
            row = {"pair": pair.name, "group": group, "method": m, "psnr": psnr(sr, truth),
                   "psnr_y": psnr_y(sr, truth), "ssim": ssim(sr, truth), "seconds": seconds}
            results.append(row)
            print(f"{pair.name:<28} {m:<20} {row['psnr']:6.2f} dB {row['psnr_y']:6.2f} {row['ssim']:.4f} "
                  f"{seconds:7.2f} s", file=sys.stderr, flush=True)
            if args.picture and pair.name == args.picture_pair and m in PICTURE[1:]:
                picture_panels["truth"] = truth
                picture_panels[m] = sr

    print(table(results, methods, device, start, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.picture:
        if len(picture_panels) < 4:
            print(f"\nno picture: pair {args.picture_pair!r} was not run", file=sys.stderr)
            return 1
        where = pick_crop(picture_panels["truth"], args.crop)
        write_picture(args.picture, [picture_panels[k] for k in PICTURE],
                      where, args.crop)
        print(f"\npicture: {args.picture} ({args.picture.stat().st_size // 1024} KB): {args.picture_pair}, "
              f"{args.crop}x{args.crop} HR crop at (y, x) = {where} (most gradient energy in the ground truth); "
              "left to right: ground truth, bicubic, flow-warp, RefSR-Net (mask fusion)")
    return 0


@functools.lru_cache(maxsize=1)  # both oracle rows of a pair ask for it
def ground_truth_matches(name: str, data: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """(H, W, 2) reference pixel of each target pixel (`refsr.datasets.dense_ground_truth`), -1 where
    unknown; None without any ground truth."""
    known = dense_ground_truth(data, name, shape)
    return None if known is None else correspondence_map(*known, shape)


def oracle_super_resolve(lr: np.ndarray, reference: np.ndarray, method: str, known: np.ndarray,
                         device: torch.device, precision: str) -> np.ndarray:
    """The oracle rows: RefSR's synthesis on ground-truth matches, or the oracle warp alone."""
    lr_t, ref_t = to_tensor(lr, device), to_tensor(reference, device)
    known_t = torch.as_tensor(known, device=device)
    if method == "oracle-warp":
        return to_image(oracle_warp_super_resolve(lr_t, ref_t, known_t)[0])
    return refsr_variant(lr_t, ref_t, refsr_models(device), precision=precision, known_matches=known_t)


def refsr_variant(lr: torch.Tensor, reference: torch.Tensor, models: RefSRModels, **switches) -> np.ndarray:
    """`refsr_super_resolve` with some of its `switches` changed, back-projected as the refsr method is."""
    sr, _ = refsr_super_resolve(lr, reference, models, **switches)
    return to_image(back_project(sr, lr, METHODS["refsr"].back_project)[0])


def ablated_super_resolve(lr: np.ndarray, reference: np.ndarray, fusion: str, kind: str, device: torch.device,
                          precision: str) -> np.ndarray:
    """RefSR with one part switched off: SS-Net's learned alignment ("no-offset", its offset head zeroed),
    the check that keeps that alignment only where the input agrees ("no-alignment-check"), the
    agreement weight of mask fusion ("no-agreement"), the neighbourhood vote of the matches ("no-vote"),
    their sub-pixel refinement ("no-subpixel") or the turns of patch orientations ("one-orientation")."""
    m = refsr_models(device)
    ssnet = {"no-offset": m.ssnet.without_alignment, "no-alignment-check": m.ssnet.without_alignment_check}
    models = RefSRModels(m.ccnet, m.srresnet_nn, ssnet[kind]()) if kind in ssnet else m
    return refsr_variant(to_tensor(lr, device), to_tensor(reference, device), models, fusion=fusion,
                         precision=precision, vote_spacing=0 if kind == "no-vote" else VOTE_SPACING,
                         subpixel=kind != "no-subpixel", weigh_agreement=kind != "no-agreement",
                         orientations=1 if kind == "one-orientation" else ORIENTATIONS[-1])


def replaced_reference(reference: np.ndarray, kind: str, unrelated: np.ndarray) -> np.ndarray:
    """The real reference, a constant grey image, or an unrelated image tiled to the same size."""
    if kind in ("real", "ensemble"):
        return reference
    if kind == "grey":
        return np.full_like(reference, 128)
    h, w = reference.shape[:2]
    reps = (-(-h // unrelated.shape[0]), -(-w // unrelated.shape[1]), 1)
    return np.ascontiguousarray(np.tile(unrelated, reps)[:h, :w])


def _mean(results: list[dict], group: str, method: str, key: str, pairs: set[str] | None = None) -> float:
    vals = [r[key] for r in results if r["group"] == group and r["method"] == method
            and (pairs is None or r["pair"] in pairs)]
    return float(np.mean(vals)) if vals else float("nan")


def table(results: list[dict], methods: list[str], device: torch.device, start: dt.datetime, args) -> str:
    groups = list(dict.fromkeys(r["group"] for r in results))
    counts = {g: len({r["pair"] for r in results if r["group"] == g}) for g in groups}
    lines = [f"Table 3 (x8, validation split) — {start:%Y-%m-%d %H:%M}, {describe(device)}, "
             f"refsr precision {describe_precision(args.precision, device)}"]
    names = sorted({n for m in methods for n in weights_of(ALL_ROWS[m][0])})
    if names:
        lines.append(f"Weights (sha256): {shipped.describe_weights(names)}")
    lines.append("")
    head = "| Method |" + "".join(f" {g} PSNR | PSNR-Y | SSIM | s/img |" for g in groups)
    lines += [head, "|---|" + "---:|" * (4 * len(groups))]
    partial = []
    for m in methods:
        cells = []
        for g in groups:
            n = len({r["pair"] for r in results if r["group"] == g and r["method"] == m})
            if n == 0:
                cells.append(" – | – | – | – |")
                continue
            star = "" if n == counts[g] else "*"
            if star:
                partial.append(f"{LABELS[m]} on {g}: {n} of {counts[g]} pairs")
            cells.append(f" {_mean(results, g, m, 'psnr'):.2f}{star} | {_mean(results, g, m, 'psnr_y'):.2f}{star} | "
                         f"{_mean(results, g, m, 'ssim'):.4f}{star} | {_mean(results, g, m, 'seconds'):.1f}{star} |")
        lines.append(f"| {LABELS[m]} |" + "".join(cells))
    lines.append("")
    lines.append("Pairs: " + "; ".join(f"{g}: {counts[g]}" for g in groups) +
                 f" ({describe_quality_split()}). "
                 "PSNR on RGB and PSNR-Y (BT.601) with an 8-px border left out; SSIM on RGB. "
                 "Seconds: wall time per image, networks already loaded"
                 + (" (noisy on a shared 2-core machine)." if device.type == "cpu" else "."))
    if partial:
        lines.append("* averaged over a subset (the first pairs of the pass; slow on this machine): "
                     + "; ".join(partial) + ". The differences below are paired on the same pairs.")
    if "refsr-mask" in methods:
        lines += ["", "RefSR-Net (mask fusion) minus each row, PSNR dB, on the pairs both ran:", ""]
        lines += ["| vs |" + "".join(f" {g} |" for g in groups), "|---|" + "---:|" * len(groups)]
        for m in methods:
            if m == "refsr-mask":
                continue
            cells = []
            for g in groups:
                both = ({r["pair"] for r in results if r["group"] == g and r["method"] == m}
                        & {r["pair"] for r in results if r["group"] == g and r["method"] == "refsr-mask"})
                if not both:
                    cells.append(" – |")
                    continue
                d = _mean(results, g, "refsr-mask", "psnr", both) - _mean(results, g, m, "psnr", both)
                cells.append(f" {d:+.2f} |")
            lines.append(f"| {LABELS[m]} |" + "".join(cells))
    lines += ["", "Paper (Table 3, its own data and degradation; for orientation only), PSNR Sintel / LF: "
              + "; ".join(f"{LABELS[m].split(' (')[0]} {s:.2f} / {l:.2f}" for m, (s, l) in PAPER.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
