"""`python -m refsr.demo`: print the per-view table of a scene's latest finished run (make demo's last step).

`make demo` runs the Prefect deployment refsr/lf-reconstruct on the embedded Motorcycle pair into
data/demo.zarr; this helper then reads the store (read-only) and prints the PSNR / PSNR-Y / SSIM
of every target, the store path and the report pictures written next to the store.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from refsr import store as st
from refsr.errors import InputError


def latest_run(store: str | Path, scene: str) -> str:
    """Id of the scene's most recently finished run."""
    finished = []
    for run_id, name in st.run_names(store):
        if name == scene:
            stamp = st.run_group(store, run_id, scene).attrs.get("finished")
            if stamp:
                finished.append((str(stamp), run_id))
    if not finished:
        raise InputError(store, f"no finished run of scene {scene!r}")
    return max(finished)[1]


def table(store: str | Path, run_id: str, scene: str) -> str:
    """The run's per-target table: target, reference, PSNR, PSNR-Y, SSIM, and the mean."""
    g = st.run_group(store, run_id, scene)
    attrs = g.attrs
    targets = np.asarray(g["targets"][...])
    scores = {k: np.asarray(g[k][...]) for k in st.METRICS}
    video = attrs.get("reference") == "previous"
    lines = [f"run {run_id}  scene {scene}  method {attrs.get('method')}  device {attrs.get('device')}",
             f"{'target':<10}{'reference':<11}{'PSNR':>8}{'PSNR-Y':>8}{'SSIM':>8}"]
    for i, t in enumerate(targets):
        ref = f"({t[0] - 1}, 0)" if video else f"({attrs['reference'][0]}, {attrs['reference'][1]})"
        lines.append(f"({t[0]}, {t[1]})".ljust(10) + ref.ljust(11) + f"{scores['psnr'][i]:>8.2f}"
                     f"{scores['psnr_y'][i]:>8.2f}{scores['ssim'][i]:>8.4f}")
    if len(targets) > 1:
        lines.append(f"{'mean':<21}{np.nanmean(scores['psnr']):>8.2f}{np.nanmean(scores['psnr_y']):>8.2f}"
                     f"{np.nanmean(scores['ssim']):>8.4f}")
    return "\n".join(lines)


def pictures(store: str | Path, run_id: str, scene: str) -> list[Path]:
    """The report PNGs of a run: `<store>.reports/<run_id>/<scene>/*.png`."""
    root = Path(store)
    return sorted((root.parent / f"{root.name}.reports" / run_id / scene).glob("*.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refsr.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="data/demo.zarr")
    parser.add_argument("--scene", default="motorcycle")
    parser.add_argument("--run", default=None, help="run id (default: the latest finished run of the scene)")
    args = parser.parse_args(argv)
    try:
        run_id = args.run or latest_run(args.store, args.scene)
        print(table(args.store, run_id, args.scene))
    except InputError as err:
        print(f"refsr.demo: error: {err}", file=sys.stderr)
        return 2
    print(f"store: {Path(args.store).resolve()}  (run runs/{run_id}/{args.scene})")
    for p in pictures(args.store, run_id, args.scene):
        print(f"picture: {p.resolve()}")
    print(f"browse it: .venv/bin/refsr info {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
