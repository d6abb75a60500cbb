"""`python -m refsr.demo` (make demo's last step) on the embedded Motorcycle pair, without Prefect."""
from __future__ import annotations

from pathlib import Path

from refsr import demo, runs
from refsr import store as zarr_store
from refsr.io import motorcycle_sample


def test_demo_prints_the_latest_finished_run(tmp_path: Path, capsys, complete_with_bicubic) -> None:
    store = str(tmp_path / "demo.zarr")
    zarr_store.ingest_lightfield(store, "motorcycle", motorcycle_sample())
    reference, targets = runs.resolve_targets(store, "motorcycle", None, None)
    run = runs.open_run(store, "motorcycle", runs.run_identity("bicubic", None, reference, targets, None), "cpu")
    complete_with_bicubic(store, run)
    runs.write_report(store, run["run_id"], "motorcycle")

    assert demo.main(["--store", store]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"  {run['run_id']}/motorcycle  method=bicubic  reference=[0, 1]  device=cpu  done 1/1")
    assert out[3].startswith("    (0, 0)    yes ")
    psnr = float(out[3].split()[-3])
    assert 18 < psnr < 25  # bicubic x8 on Motorcycle: far from identical, far from noise
    assert sum(line.startswith("picture: ") for line in out) == 2
    assert out[-1] == f"browse it: .venv/bin/refsr info {store}"


def test_demo_without_a_finished_run_says_so_in_one_line(tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "demo.zarr")
    zarr_store.ingest_lightfield(store, "motorcycle", motorcycle_sample())
    assert demo.main(["--store", store]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "no finished run of scene 'motorcycle'" in captured.err
    assert demo.main(["--store", str(tmp_path / "absent.zarr")]) == 2
    assert "absent.zarr: no such store" in capsys.readouterr().err
    assert not (tmp_path / "absent.zarr").exists()
