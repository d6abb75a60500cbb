"""Reconstruction throughput of the pipeline: targets per minute with the thread pool vs Dask clusters.

    python bench/throughput.py [--grid 3] [--size 256] [--methods bicubic refsr] [--device cpu]
                               [--workers 1 2] [--warm] [--repeats 1] [--out bench/results/throughput_cpu.md]

Runs the real flow `lf_reconstruct` (targets "all" of a synthetic `--grid` x `--grid` light field
of `--size` px views cut from the embedded Motorcycle sample, so grid^2 - 1 targets) once per
method and placement, each into a fresh store so that every target is computed:

- `threads`: `reconstruct_on="local"`, the flow run's thread pool (one target at a time per device);
- `dask xN`: `reconstruct_on="dask"` on a loopback LocalCluster of N single-threaded worker
  processes that the flow run starts (and stops) itself: cold workers;
- with `--warm`, `dask xN warm`: the same on a LocalCluster started here beforehand and passed as
  `dask_address`, after one untimed run has warmed its workers (imports, weights): how long-lived
  `dask worker` processes on a lab's machines behave.

Targets per minute are over the flow's `reconstruct` stage (`timings["reconstruct_s"]`), the
median of `--repeats` runs (with their range); cluster start-up (`cluster_s`) is reported apart.
The last column says whether each placement stored exactly the SR images of the thread pool.
Dask workers run torch with one thread each (distributed sets OMP_NUM_THREADS=1 for them); the
flow-run process uses every core. Without $PREFECT_API_URL a throwaway local Prefect server is
started (prefect_test_harness); each task run on a Dask worker talks to it, so a busy machine
slows the Dask placements more than the thread pool.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

STEP = 4  # px between neighbouring views of the synthetic grid (its parallax)


def synthetic_grid(folder: Path, grid: int, size: int) -> Path:
    """Write a `grid` x `grid` light field of `size` px views as `<u>_<v>.png` into `folder`.

    View (u, v) is the left Motorcycle image cropped at (STEP*u, STEP*v): a light field with a
    constant parallax of STEP px per view.
    """
    from refsr.io.images import write_image
    from refsr.io.lightfield import motorcycle_sample

    left = motorcycle_sample().views[0, 0]
    if size + STEP * (grid - 1) > min(left.shape[:2]):
        raise SystemExit(f"--size {size} with --grid {grid} does not fit the {left.shape[1]}x{left.shape[0]} sample")
    folder.mkdir(parents=True, exist_ok=True)
    for u in range(grid):
        for v in range(grid):
            y, x = STEP * u, STEP * v
            write_image(folder / f"{u}_{v}.png", np.ascontiguousarray(left[y:y + size, x:x + size]))
    return folder


def prefect_server():
    """The Prefect API to use: $PREFECT_API_URL when set, else a throwaway local server (a context manager)."""
    if os.environ.get("PREFECT_API_URL"):
        return nullcontext()
    from prefect.testing.utilities import prefect_test_harness

    return prefect_test_harness(server_startup_timeout=180)


def timed_run(source: Path, store: Path, method: str, device: str, **placement: object) -> dict:
    """One `lf_reconstruct` of every target into the fresh `store`: {n, reconstruct_s, cluster_s, processes, sr}."""
    from pipelines.flows import lf_reconstruct
    from refsr import store as zarr_store

    out = lf_reconstruct(source=str(source), store=str(store), scene="grid", targets="all", method=method,
                         device=device, **placement)
    t = out["timings"]
    sr = np.asarray(zarr_store.run_group(store, out["runs"][0]["run_id"], "grid")["sr"][...])
    return {"n": out["reconstructed"], "reconstruct_s": t["reconstruct_s"], "cluster_s": t.get("cluster_s"),
            "processes": len(out["reconstructed_by"]), "sr": sr}


def placements(workers: list[int], warm: bool) -> list[tuple[str, dict, int | None]]:
    """(label, flow parameters, workers of a cluster to start here first or None) for each placement."""
    rows = [("threads", {"reconstruct_on": "local"}, None)]
    rows += [(f"dask x{n}", {"reconstruct_on": "dask", "dask_workers": n}, None) for n in workers]
    if warm:
        rows += [(f"dask x{n} warm", {"reconstruct_on": "dask"}, n) for n in workers]
    return rows


def measure(source: Path, work: Path, method: str, device: str, label: str, params: dict,
            cluster_workers: int | None) -> dict:
    """Time one placement of `method` into fresh stores under `work` (a warm cluster gets one untimed run first)."""
    from pipelines.compute import local_cluster

    work.mkdir(parents=True, exist_ok=True)
    with local_cluster(cluster_workers) if cluster_workers else nullcontext() as cluster:
        if cluster is not None:
            params = {**params, "dask_address": cluster.scheduler_address}
            timed_run(source, work / f"{method}-{label}-warmup.zarr", method, device, **params)
        return timed_run(source, work / f"{method}-{label}.zarr", method, device, **params)


def same_images(runs: list[dict], reference: np.ndarray) -> str:
    """Whether every run stored exactly the SR images of `reference` (the first thread-pool run)."""
    worst = max(int(np.abs(r["sr"].astype(np.int16) - reference).max()) for r in runs)
    return "yes" if worst == 0 else f"no (max diff {worst})"


def summarize(method: str, label: str, runs: list[dict], reference: np.ndarray) -> dict:
    """One table row from the repeated runs of a placement: medians, and the range of targets per minute."""
    rates = sorted(60 * r["n"] / r["reconstruct_s"] for r in runs)
    clusters = [r["cluster_s"] for r in runs if r["cluster_s"] is not None]
    return {"method": method, "placement": label, "n": runs[0]["n"], "processes": max(r["processes"] for r in runs),
            "reconstruct_s": statistics.median(r["reconstruct_s"] for r in runs),
            "rate": statistics.median(rates), "rates": (rates[0], rates[-1]),
            "cluster_s": statistics.median(clusters) if clusters else None, "same": same_images(runs, reference)}


def table(rows: list[dict]) -> str:
    """Markdown table of the summarized rows."""
    lines = ["| method | placement | targets | worker processes | reconstruct s | targets/min (range) "
             "| cluster start s | SR identical to threads |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cluster = "-" if r["cluster_s"] is None else f"{r['cluster_s']:.1f}"
        spread = f" ({r['rates'][0]:.1f}-{r['rates'][1]:.1f})" if r["rates"][0] != r["rates"][1] else ""
        lines.append(f"| {r['method']} | {r['placement']} | {r['n']} | {r['processes']} | {r['reconstruct_s']:.1f} "
                     f"| {r['rate']:.1f}{spread} | {cluster} | {r['same']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, default=3, help="views per side (grid^2 - 1 targets)")
    parser.add_argument("--size", type=int, default=256, help="view size in px (a multiple of 8)")
    parser.add_argument("--methods", nargs="+", default=["bicubic", "refsr"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="Dask LocalCluster sizes")
    parser.add_argument("--warm", action="store_true", help="also time clusters started beforehand and warmed up")
    parser.add_argument("--repeats", type=int, default=1, help="runs per placement (the median is reported)")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--verbose", action="store_true", help="keep Prefect's INFO logs")
    args = parser.parse_args()
    if not args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # read when distributed is imported

    from refsr.devices import describe

    started = datetime.now(timezone.utc)
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="refsr-throughput-") as tmp, prefect_server():
        source = synthetic_grid(Path(tmp) / "grid", args.grid, args.size)
        for method in args.methods:
            reference = None
            for label, params, cluster_workers in placements(args.workers, args.warm):
                runs = []
                for k in range(args.repeats):
                    t0 = time.perf_counter()
                    run = measure(source, Path(tmp) / str(k), method, args.device, label, params, cluster_workers)
                    runs.append(run)
                    print(f"{method:8s} {label:14s} {run['n']} targets, reconstruct {run['reconstruct_s']:.1f} s "
                          f"({60 * run['n'] / run['reconstruct_s']:.1f}/min; whole step "
                          f"{time.perf_counter() - t0:.1f} s)", flush=True)
                reference = runs[0]["sr"] if reference is None else reference
                rows.append(summarize(method, label, runs, reference))
    report = "\n".join([
        f"# bench/throughput.py, device {args.device}",
        "",
        f"`python {' '.join(['bench/throughput.py', *sys.argv[1:]])}`, {started:%Y-%m-%d %H:%M} UTC; "
        f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after.",
        "",
        f"Machine: {describe(args.device)}.",
        "",
        f"Light field: synthetic {args.grid}x{args.grid} grid of {args.size}x{args.size} views cut from the "
        f"Motorcycle sample, targets \"all\" ({args.grid ** 2 - 1}), each run into a fresh store; "
        f"{args.repeats} run(s) per placement.",
        "",
        table(rows),
        "",
    ])
    print("\n" + report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
