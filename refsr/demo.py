"""`python -m refsr.demo`: print the per-view table of a scene's latest finished run (make demo's last step).

`make demo` runs the Prefect deployment refsr/lf-reconstruct on the embedded Motorcycle pair into
data/demo.zarr; this helper then reads the store (read-only) and prints the PSNR / PSNR-Y / SSIM
of every target, the store path and the report pictures written next to the store (refsr.runs).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from refsr import runs
from refsr import store as zarr_store
from refsr.errors import InputError
from refsr.io.lightfield import MOTORCYCLE_SCENE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refsr.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=runs.DEMO_STORE)
    parser.add_argument("--scene", default=MOTORCYCLE_SCENE)
    parser.add_argument("--run", default=None, help="run id (default: the latest finished run of the scene)")
    args = parser.parse_args(argv)
    try:
        run_id = args.run or runs.latest_finished_run(args.store, args.scene)
        print(zarr_store.describe_run(args.store, run_id, args.scene))
    except InputError as err:
        print(f"refsr.demo: error: {err}", file=sys.stderr)
        return 2
    print(f"store: {Path(args.store).resolve()}  (run runs/{run_id}/{args.scene})")
    for p in runs.report_pictures(args.store, run_id, args.scene):
        print(f"picture: {p.resolve()}")
    print(f"browse it: .venv/bin/refsr info {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
