"""The paper's Table 2 on refsr's validation split: matching accuracy of the six matchers.

    python bench/matching.py [--data ../shared/data] [--search 100] [--stride 8] [--device auto]

The validation pairs and their ground truth come from `refsr.datasets.matching_validation_pairs`
(the split and its rules have one owner; the correspondences are `refsr.correspondence`, docs/method.md
"Ground-truth correspondence"). For every pair the input is
`refsr.degrade` of the input frame/view (the x8 LR, as `refsr match` takes it) and the reference is
the HR frame/view; the centres (inside the x8 crop) are passed to every method, so all methods
answer for the same centres, in the same +-search window.

Sets (reported separately):
- Sintel: VALIDATION_CLIPS (alley_1, cave_2), input frame t+1 against reference frame t, for every
  flow t -> t+1 that has BOTH its occlusion and invalid masks (occluded/invalid points are
  excluded; a flow without masks cannot exclude them, so that pair is skipped and listed). Final
  and clean passes are reported as separate sets (the frames differ, the ground truth is the same).
- Light field: HCI antinous, input view LF_MATCH_PAIR[0] = (4, 4) (the view the disparity belongs
  to) against reference (1, 1); points failing the forward-backward disparity check are excluded.
- Stereo: Middlebury 2006 STEREO_VALIDATION_SCENE, view1 (input) against view5 (reference);
  points of unknown disparity are excluded.
Accuracy of a set pools its points (every valid centre counts once, whatever its pair).
Seconds per frame: wall time of what `refsr match` does with the input, one `refsr.matching.match` call
on every centre of the stride grid (upsampling, features of input and reference, window search), after
a warm-up on a small crop so that one-time costs (loading weights, kernel selection) are not counted.
The ground-truth centres lie off that grid (the truth is on the reference's grid), so their matches
come from a call of their own; off-grid centres share no voting neighbours, which makes `ccnet` slower there.

Needs torch, numpy, kornia, scikit-image, imageio, h5py (no prefect, no zarr).
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from refsr.degrade import SCALE, degrade
from refsr.devices import describe, pick_device
from refsr.matching import MATCHERS, match
from refsr.matching.search import SEARCH
from refsr.metrics import matching_accuracy
from refsr.precision import PRECISIONS, describe_precision
from refsr.datasets import DEFAULT_DATA, HCI, VALIDATION_SETS, Pair, matching_validation_pairs

THRESHOLDS = (0, 1, 2, 4, 5, 6)


@dataclass
class Case:
    """One benchmark input: a validation `Pair` with its input degraded, and the set it is reported in."""

    group: str  # the set it is reported in
    name: str
    lr: np.ndarray  # uint8 (h, w, 3): degraded input
    reference: np.ndarray  # uint8 (H, W, 3): HR reference
    centers: np.ndarray  # (N, 2) int, pixels of the upsampled input (inside the x8 crop)
    truth: np.ndarray  # (N, 2) int, pixels of the reference


def _case(group: str, name: str, pair: Pair) -> Case:
    lr = degrade(pair.target)
    return Case(group, name, lr.reshape(lr.shape[-3:]), pair.reference, pair.centers, pair.truth)


def validation_cases(data: Path, sets: list[str], passes: tuple[str, ...], stride: int,
                     skipped: list[str]) -> list[Case]:
    """`refsr.datasets.matching_validation_pairs` for `sets`, each Sintel pass its own set, in the order asked.

    What cannot be scored (not on disk, Sintel flow without masks, no disparity) is left out and noted in `skipped`.
    """
    cases = []
    for name in sets:
        for pass_name in passes if name == "sintel" else (None,):
            for pair in matching_validation_pairs(data, stride, (name,), (pass_name,), SCALE, skipped):
                if not len(pair.centers):
                    skipped.append(f"{pair.name}: no ground truth")
                    continue
                cases.append(_case(pair.group, pair.name.replace("hci/", f"hci/{HCI.name}/", 1), pair))
    return cases


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(args: argparse.Namespace) -> str:
    device = pick_device(args.device)
    skipped: list[str] = []
    cases = validation_cases(args.data, args.sets, tuple(args.passes), args.stride, skipped)
    if not cases:
        raise SystemExit(f"no validation pair with ground truth under {args.data}")

    # warm-up: one-time costs (weights, kernels) are not part of the per-image time
    small = cases[0]
    for method in args.methods:
        match(small.lr[:16, :16], small.reference[:128, :128], method, stride=args.stride, search=8, device=str(device))

    results = {}  # (case name, method) -> (matches, seconds)
    for case in cases:
        for method in args.methods:
            _, found = match(case.lr, case.reference, method, stride=args.stride, search=args.search,
                             device=str(device), centers=case.centers, precision=args.precision)
            _sync(device)
            start = time.perf_counter()  # what `refsr match` does: the whole stride grid of the frame
            match(case.lr, case.reference, method, stride=args.stride, search=args.search, device=str(device),
                  precision=args.precision)
            _sync(device)
            seconds = time.perf_counter() - start
            results[case.name, method] = (found, seconds)
            acc = matching_accuracy(found, case.truth, thresholds=THRESHOLDS)
            print(f"{case.name:32s} {method:13s} {len(case.centers):5d} pts  <=0 {acc[0]:5.1f}  <=1 {acc[1]:5.1f}"
                  f"  <=4 {acc[4]:5.1f}  {seconds:6.1f} s", file=sys.stderr, flush=True)

    head = "| set | method | " + " | ".join(f"<={t} px" for t in THRESHOLDS) + " | s / frame | points |"
    rule = "|" + "---|" * (len(THRESHOLDS) + 4)
    lines = ["## Matching accuracy (%), validation split (paper Table 2)", "", head, rule]
    groups = list(dict.fromkeys(p.group for p in cases))
    for group in groups:
        members = [p for p in cases if p.group == group]
        truth = np.concatenate([p.truth for p in members])
        for method in args.methods:
            found = np.concatenate([results[p.name, method][0] for p in members])
            acc = matching_accuracy(found, truth, thresholds=THRESHOLDS)
            seconds = np.mean([results[p.name, method][1] for p in members])
            lines.append(f"| {group} | {method} | " + " | ".join(f"{acc[t]:.1f}" for t in THRESHOLDS)
                         + f" | {seconds:.1f} | {len(truth)} |")
    lines += ["", "### Per pair", "", head.replace("| set |", "| pair |"), rule]
    for case in cases:
        for method in args.methods:
            found, seconds = results[case.name, method]
            acc = matching_accuracy(found, case.truth, thresholds=THRESHOLDS)
            lines.append(f"| {case.name} | {method} | " + " | ".join(f"{acc[t]:.1f}" for t in THRESHOLDS)
                         + f" | {seconds:.1f} | {len(case.truth)} |")
    shapes = sorted({f"{p.lr.shape[1] * SCALE}x{p.lr.shape[0] * SCALE} ({p.group})" for p in cases})
    lines += [
        "",
        f"- machine: {describe(device)}; CC-Net precision {describe_precision(args.precision, device)}",
        f"- search +-{args.search} px, centre stride {args.stride} (ground-truth grid), x{SCALE}; "
        f"input sizes (WxH, upsampled): {', '.join(shapes)}",
        "- accuracy: share of valid centres whose match is within t px (Euclidean) of the truth; a set pools "
        "the points of its pairs; occluded/invalid (Sintel), forward-backward failures (light field) and unknown "
        "disparity (stereo) excluded",
        "- s / frame: wall time of `refsr match`'s work on the input (`refsr.matching.match` of every centre of "
        "the stride grid: features of input and reference + search), mean over the set's pairs, after a warm-up; "
        "the ground-truth centres, off that grid, are matched in a call of their own",
    ]
    if skipped:
        lines.append(f"- skipped: {'; '.join(skipped)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default %(default)s)")
    parser.add_argument("--search", type=int, default=SEARCH, help="search radius in HR px (default %(default)s)")
    parser.add_argument("--stride", type=int, default=SCALE, help="ground-truth centre stride (default %(default)s)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (default %(default)s)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="CC-Net precision (default %(default)s)")
    parser.add_argument("--methods", nargs="+", default=list(MATCHERS), choices=MATCHERS)
    parser.add_argument("--passes", nargs="+", default=["final", "clean"], choices=["final", "clean", "albedo"],
                        help="Sintel passes, each reported as its own set (default %(default)s)")
    parser.add_argument("--sets", nargs="+", default=list(VALIDATION_SETS), choices=VALIDATION_SETS)
    args = parser.parse_args(argv)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    command = "python bench/matching.py " + " ".join(sys.argv[1:] if argv is None else argv)
    table = run(args)
    print(f"# Matching benchmark\n\n- command: `{command}`\n- started: {started}\n\n{table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
