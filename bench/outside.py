"""RefSR against flow-warp and bicubic on pairs outside the validation split, x8.

    python bench/outside.py [--data ../shared/data] [--device auto] [--ensemble]

Pairs (`PAIRS`): the demo's Motorcycle pair both ways (scikit-image's `stereo_motorcycle`, not in
shared/data, never trained on), and a Sintel, a second Sintel, an HCI and a Middlebury 2006 pair
from scenes the networks were trained on (other frames or views of them; the pairs themselves are
the ones named). They show whether what wins on the validation split carries over; nothing is
chosen on them. Degradation and metrics as bench/quality.py. `REFSR_WEIGHTS=DIR` runs other weights
(refsr.shipped). Prints a Markdown table; needs neither prefect nor zarr.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

from refsr import shipped
from refsr.datasets import (DEFAULT_DATA, HCI, MIDDLEBURY2006, SINTEL, lightfield_pair_name, sintel_pair_name,
                            stereo_pair_name)
from refsr.degrade import crop_to_multiple, degrade
from refsr.devices import describe, pick_device
from refsr.io.lightfield import motorcycle_sample, read_hci, read_middlebury2006
from refsr.io.sintel import read_clip
from refsr.methods import METHODS, super_resolve
from refsr.metrics import psnr

# name -> how to read (target, reference) from the data root
PAIRS = {
    "motorcycle (0,0)<-(0,1) (the demo)": lambda data: tuple(motorcycle_sample().views[0, [0, 1]]),
    "motorcycle (0,1)<-(0,0)": lambda data: tuple(motorcycle_sample().views[0, [1, 0]]),
    sintel_pair_name("final", "ambush_2", 20):
        lambda data: tuple(read_clip(data / SINTEL, "ambush_2", "final", frames=[20, 21]).frames[::-1]),
    sintel_pair_name("final", "ambush_4", 7):
        lambda data: tuple(read_clip(data / SINTEL, "ambush_4", "final", frames=[7, 8]).frames[::-1]),
    lightfield_pair_name((6, 5), (3, 5)): lambda data: tuple(read_hci(data / HCI).views[[6, 3], [5, 5]]),
    stereo_pair_name("Wood2"):
        lambda data: tuple(read_middlebury2006(data / MIDDLEBURY2006 / "Wood2").views[0, [0, 1]]),
}
METHOD_NAMES = ("bicubic", "flow-warp", "refsr")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data root")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--ensemble", action="store_true", help="add RefSR's flip ensemble (twice the time)")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        parser.error(f"data root {data} not found")
    device = pick_device(args.device)
    runs = {name: (name, {}) for name in METHOD_NAMES}
    if args.ensemble:
        runs["refsr, flip ensemble"] = ("refsr", {"ensemble": True})
    for name in METHODS["refsr"].weights:
        shipped.load(name, device)

    start = dt.datetime.now()
    rows = []
    for pair, read in PAIRS.items():
        target, reference = read(data)
        truth, lr = crop_to_multiple(target), degrade(target)
        scores = {}
        for label, (method, options) in runs.items():
            t0 = time.perf_counter()
            scores[label] = psnr(super_resolve(lr, reference, method, device=str(device), **options), truth)
            print(f"{pair:<36} {label:<22} {scores[label]:7.3f} dB {time.perf_counter() - t0:6.1f} s",
                  file=sys.stderr, flush=True)
        rows.append((pair, scores))

    print(f"RefSR outside the validation split (x8, PSNR dB on RGB, 8-px border left out) — "
          f"{start:%Y-%m-%d %H:%M}, {describe(device)}\n"
          f"Weights (sha256): {shipped.describe_weights(METHODS['refsr'].weights)}\n")
    labels = list(runs)
    print("| pair | " + " | ".join(labels) + " | refsr - flow-warp |")
    print("|---|" + "---:|" * (len(labels) + 1))
    for pair, scores in rows:
        print(f"| {pair} | " + " | ".join(f"{scores[k]:.2f}" for k in labels)
              + f" | {scores['refsr'] - scores['flow-warp']:+.3f} |")
    means = {k: float(np.mean([s[k] for _, s in rows])) for k in labels}
    print("| mean | " + " | ".join(f"{means[k]:.2f}" for k in labels)
          + f" | {means['refsr'] - means['flow-warp']:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
