"""`python -m refsr.demo` (make demo): the x8 bicubic baseline on the bundled Motorcycle stereo pair.

Ingests the pair into data/demo.zarr (scene `motorcycle`), super-resolves the degraded left view
(0, 0) with the right view (0, 1) as reference, stores the run `demo-bicubic` with its metrics
and prints them. Re-running reuses the scene (unchanged) and rewrites the run, which the demo owns.
"""
from __future__ import annotations

import sys
from pathlib import Path

from refsr import metrics
from refsr.degrade import SCALE, crop_to_multiple, degrade
from refsr.io.lightfield import motorcycle_sample
from refsr.methods import super_resolve
from refsr import store as st

SCENE, RUN_ID, METHOD = "motorcycle", "demo-bicubic", "bicubic"
TARGET, REFERENCE = (0, 0), (0, 1)


def default_store() -> Path:
    """data/demo.zarr under the repository root (the folder with pyproject.toml), else under the cwd."""
    repo = Path(__file__).resolve().parents[1]
    return (repo if (repo / "pyproject.toml").is_file() else Path.cwd()) / "data" / "demo.zarr"


def run_demo(store: Path) -> dict[str, float]:
    """Ingest, degrade, super-resolve, store and evaluate; returns the metrics of the one target."""
    lf = motorcycle_sample()
    result = st.ingest_lightfield(store, SCENE, lf)
    hr, ref = lf.views[TARGET], lf.views[REFERENCE]
    truth = crop_to_multiple(hr)
    lr = degrade(hr)
    print(f"scene {SCENE}: {result} ({lf.reader}, grid {lf.grid[0]}x{lf.grid[1]}, views "
          f"{hr.shape[0]}x{hr.shape[1]}); input view {TARGET} -> LR {lr.shape[0]}x{lr.shape[1]} (x{SCALE})",
          file=sys.stderr)
    sr = super_resolve(lr, ref, METHOD, device="cpu")
    attrs = {"method": METHOD, "weights": None, "reference": list(REFERENCE), "fusion": None,
             "device": "cpu", "params": {"scale": SCALE}}
    st.create_run(store, RUN_ID, SCENE, [TARGET], truth.shape[:2], attrs, overwrite=True)
    st.write_target(store, RUN_ID, SCENE, 0, sr)
    scores = {"psnr": metrics.psnr(sr, truth), "psnr_y": metrics.psnr_y(sr, truth), "ssim": metrics.ssim(sr, truth)}
    st.write_metrics(store, RUN_ID, SCENE, 0, **scores)
    st.finish_run(store, RUN_ID, SCENE)
    return scores


def main() -> int:
    """Run the demo and print the result table, the store path and how to browse it."""
    store = default_store()
    scores = run_demo(store)
    print(f"{'method':<9}{'target':<8}{'reference':<11}{'PSNR':>7}{'PSNR-Y':>8}{'SSIM':>8}")
    print(f"{METHOD:<9}{str(TARGET):<8}{str(REFERENCE):<11}{scores['psnr']:>7.2f}{scores['psnr_y']:>8.2f}"
          f"{scores['ssim']:>8.4f}")
    print(f"store: {store}  (run runs/{RUN_ID}/{SCENE})")
    try:
        shown = store.relative_to(Path.cwd())
    except ValueError:
        shown = store
    print(f"browse it: .venv/bin/refsr info {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
