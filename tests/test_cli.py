"""The `refsr` command line: the documented sizes, one-line errors, exit codes, --help everywhere."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import refsr.train
from refsr.cli import main
from refsr.datasets import SR_BENCHMARKS
from refsr.io.images import read_image, write_image

SUBCOMMANDS = [[], ["degrade"], ["sr"], ["match"], ["ingest"], ["ingest", "sintel"], ["ingest", "lightfield"],
               ["info"], ["train"]]


def _error_line(capsys: pytest.CaptureFixture) -> str:
    """stderr must end with exactly one `refsr: error: ...` line and hold no traceback; return it."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("refsr: error: ")]
    assert errors == lines[-1:] and not any("Traceback" in line for line in lines), lines
    return lines[-1]


@pytest.fixture
def set5(data_root: Path) -> Path:
    folder = data_root / SR_BENCHMARKS / "Set5"
    if not folder.is_dir():
        pytest.skip(f"Set5 not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def hci_store(tmp_path_factory: pytest.TempPathFactory, hci_antinous: Path, sintel_root: Path) -> Path:
    """A store made by the CLI from HCI antinous and Sintel alley_1 (final pass)."""
    path = tmp_path_factory.mktemp("cli") / "s.zarr"
    assert main(["ingest", "lightfield", str(hci_antinous), "--store", str(path)]) == 0
    assert main(["ingest", "sintel", str(sintel_root), "--store", str(path), "--clips", "alley_1"]) == 0
    return path


@pytest.mark.parametrize("argv", SUBCOMMANDS, ids=lambda a: " ".join(a) or "refsr")
def test_every_command_has_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: refsr")


def test_ingest_then_info_shows_scenes_shapes_and_dims(hci_store: Path, capsys) -> None:
    assert main(["info", str(hci_store)]) == 0
    out = capsys.readouterr().out
    assert "antinous  kind=lightfield  grid=9x9" in out
    assert "views         uint8    (u=9, v=9, y=512, x=512, c=3)" in out
    assert "alley_1  kind=video  frames=4" in out
    assert "frames        uint8    (t=4, y=436, x=1024, c=3)" in out
    assert "flow          float32  (t=4, y=436, x=1024, uv=2)" in out
    assert xr.open_zarr(hci_store, group="scenes/antinous", consolidated=False)["views"].shape == (9, 9, 512, 512, 3)


def test_info_json_describes_the_real_store(hci_store: Path, capsys) -> None:
    assert main(["info", str(hci_store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    scenes = {s["name"]: s for s in info["scenes"]}
    assert sorted(scenes) == ["alley_1", "antinous"] and info["runs"] == [] and info["problems"] == []
    assert scenes["antinous"]["arrays"]["views"] == {"dtype": "uint8", "dims": ["u", "v", "y", "x", "c"],
                                                      "shape": [9, 9, 512, 512, 3], "chunks": [1, 1, 512, 512, 3]}
    assert scenes["alley_1"]["kind"] == "video" and scenes["alley_1"]["attrs"]["frames"] == 4
    assert info["staging"] == {"stale": [], "live": [], "partial": []}


def test_ingest_into_a_scene_with_an_unfinished_run_is_refused(tmp_path: Path, hci_antinous: Path,
                                                                 capsys) -> None:
    from refsr import store as zarr_store

    store = tmp_path / "s.zarr"
    folder = _views_folder(tmp_path, hci_antinous)
    assert main(["ingest", "lightfield", str(folder), "--store", str(store), "--name", "lf"]) == 0
    zarr_store.create_run(store, "r1", "lf", [[0, 1]], (512, 512), {"method": "bicubic", "reference": [0, 0]})
    write_image(folder / "input_Cam003.png", read_image(folder / "input_Cam002.png"))  # other content
    assert main(["ingest", "lightfield", str(folder), "--store", str(store), "--name", "lf", "--overwrite"]) == 2
    assert _error_line(capsys) == (f"refsr: error: {store}: scene 'lf' is not replaced: unfinished runs read it "
                                   "(r1); finish them, or delete runs/<run>/lf of those no longer running")


def test_reingest_unchanged_is_a_noop(hci_store: Path, sintel_root: Path, capsys) -> None:
    meta = (hci_store / "scenes" / "alley_1" / "zarr.json").read_bytes()
    assert main(["ingest", "sintel", str(sintel_root), "--store", str(hci_store), "--clips", "alley_1"]) == 0
    assert "alley_1: unchanged" in capsys.readouterr().out
    assert (hci_store / "scenes" / "alley_1" / "zarr.json").read_bytes() == meta


def _views_folder(tmp_path: Path, hci_antinous: Path) -> Path:
    """A 2x2 HCI-named light field made of four real antinous views."""
    folder = tmp_path / "lf"
    folder.mkdir()
    for i in range(4):
        shutil.copy(hci_antinous / f"input_Cam{i:03d}.png", folder)
    return folder


def test_corrupt_view_leaves_no_store_and_names_the_file(tmp_path: Path, hci_antinous: Path, capsys) -> None:
    folder = _views_folder(tmp_path, hci_antinous)
    bad = folder / "input_Cam002.png"
    bad.write_bytes(bad.read_bytes()[:2000])  # truncated PNG
    store = tmp_path / "s.zarr"
    assert main(["ingest", "lightfield", str(folder), "--store", str(store)]) == 2
    assert _error_line(capsys).startswith(f"refsr: error: {bad}: ")
    assert not store.exists()


def test_views_of_different_sizes_are_refused(tmp_path: Path, hci_antinous: Path, hci_store: Path, capsys) -> None:
    folder = _views_folder(tmp_path, hci_antinous)
    odd = folder / "input_Cam003.png"
    write_image(odd, read_image(odd)[:480])
    before = sorted(p.name for p in (hci_store / "scenes").iterdir())
    assert main(["ingest", "lightfield", str(folder), "--store", str(hci_store), "--name", "odd"]) == 2
    assert _error_line(capsys).startswith(f"refsr: error: {odd}: ")
    assert sorted(p.name for p in (hci_store / "scenes").iterdir()) == before


@pytest.mark.parametrize("name,lr_shape", [("butterfly.png", (32, 32)), ("bird.png", (36, 36)),
                                           ("woman.png", (43, 28))])
def test_degrade_gives_the_documented_size(set5: Path, tmp_path: Path, name: str, lr_shape) -> None:
    out = tmp_path / "lr.png"
    assert main(["degrade", str(set5 / name), str(out)]) == 0
    assert read_image(out).shape == (*lr_shape, 3)


def test_degrade_of_the_motorcycle_view_is_62x92(tmp_path: Path) -> None:
    from refsr.io.lightfield import motorcycle_sample

    hr = tmp_path / "left.png"
    write_image(hr, motorcycle_sample().views[0, 0])  # 500x741
    assert main(["degrade", str(hr), str(tmp_path / "lr.png")]) == 0
    assert read_image(tmp_path / "lr.png").shape == (62, 92, 3)


def test_sr_bicubic_is_exactly_8x_the_lr(set5: Path, tmp_path: Path) -> None:
    lr = tmp_path / "lr.png"
    write_image(lr, read_image(set5 / "woman.png")[:37, :29])  # odd LR size on purpose
    out = tmp_path / "sr.png"
    assert main(["sr", str(lr), str(set5 / "woman.png"), str(out), "--method", "bicubic", "--device", "cpu"]) == 0
    assert read_image(out).shape == (37 * 8, 29 * 8, 3)


def test_sr_without_method_takes_the_default_method(set5: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from refsr import shipped

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "no-weights")  # a checkout without weights
    lr = tmp_path / "lr.png"
    write_image(lr, read_image(set5 / "woman.png")[:16, :16])
    assert main(["sr", str(lr), str(set5 / "woman.png"), str(tmp_path / "sr.png"), "--device", "cpu"]) == 0
    assert capsys.readouterr().err.strip().endswith("by bicubic")


def test_too_small_images_are_rejected(set5: Path, tmp_path: Path, capsys) -> None:
    tiny = tmp_path / "tiny.png"
    write_image(tiny, read_image(set5 / "butterfly.png")[:60, :60])  # LR would be 7x7
    assert main(["degrade", str(tiny), str(tmp_path / "lr.png")]) == 2
    assert _error_line(capsys).startswith(f"refsr: error: {tiny}: image is 60x60 px")
    assert not (tmp_path / "lr.png").exists()
    lr = tmp_path / "lr7.png"
    write_image(lr, read_image(set5 / "butterfly.png")[:7, :7])
    assert main(["sr", str(lr), str(set5 / "butterfly.png"), str(tmp_path / "sr.png"), "--method", "bicubic"]) == 2
    assert _error_line(capsys).startswith(f"refsr: error: {lr}: ")


def test_missing_input_and_unknown_store(tmp_path: Path, capsys) -> None:
    assert main(["degrade", str(tmp_path / "nope.png"), str(tmp_path / "lr.png")]) == 2
    assert _error_line(capsys) == f"refsr: error: {tmp_path / 'nope.png'}: file not found"
    assert main(["info", str(tmp_path / "none.zarr")]) == 2
    assert _error_line(capsys) == f"refsr: error: {tmp_path / 'none.zarr'}: no such store"


def test_other_failures_exit_1_and_debug_shows_the_traceback(set5: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    import refsr.methods

    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(refsr.methods, "super_resolve", broken)
    argv = ["sr", str(set5 / "bird.png"), str(set5 / "bird.png"), str(tmp_path / "o.png"), "--method", "bicubic"]
    assert main(argv) == 1
    assert _error_line(capsys) == "refsr: error: kernel exploded"
    assert main(["--debug", *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("refsr: error: kernel exploded")


def test_match_saves_centers_and_matches(set5: Path, tmp_path: Path) -> None:
    hr, lr, out = tmp_path / "hr.png", tmp_path / "lr.png", tmp_path / "m.npz"
    write_image(hr, read_image(set5 / "butterfly.png")[:128, :96])
    assert main(["degrade", str(hr), str(lr)]) == 0
    assert main(["match", str(lr), str(hr), str(out), "--method", "zncc", "--search", "8", "--device", "cpu"]) == 0
    saved = np.load(out)
    assert saved["centers"].shape == saved["matches"].shape == (16 * 12, 2)


def test_train_forwards_net_and_arguments(monkeypatch) -> None:
    seen = {}

    def fake(net: str, argv: list[str]) -> int:
        seen.update(net=net, argv=argv)
        return 0

    monkeypatch.setattr(refsr.train, "main", fake, raising=False)
    assert main(["train", "srresnet", "--config", "cpu", "--steps", "3"]) == 0
    assert seen == {"net": "srresnet", "argv": ["--config", "cpu", "--steps", "3"]}


def test_console_script_is_installed(hci_store: Path) -> None:
    script = Path(sys.executable).parent / "refsr"
    assert script.is_file(), f"console script missing at {script}: pip install -e ."
    done = subprocess.run([str(script), "info", str(hci_store)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "grid=9x9" in done.stdout


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("refsr ")


@pytest.mark.parametrize("option", [["--stride", "0"], ["--stride", "-8"], ["--search", "-5"], ["--search", "x"]])
def test_match_options_out_of_range_are_refused(option: list[str], set5: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.npz"
    out.write_bytes(b"previous")
    with pytest.raises(SystemExit) as exit_:
        main(["match", str(set5 / "bird.png"), str(set5 / "bird.png"), str(out), "--method", "zncc", *option])
    assert exit_.value.code == 2 and option[0] in capsys.readouterr().err
    assert out.read_bytes() == b"previous"  # nothing the user had is changed


@pytest.mark.parametrize("value", ["-1", "100000"])
def test_back_projection_is_bounded(value: str, set5: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sr", str(set5 / "bird.png"), str(set5 / "bird.png"), str(tmp_path / "o.png"), "--back-project", value])
    assert exit_.value.code == 2 and "--back-project" in capsys.readouterr().err


def test_bad_outputs_are_refused_before_any_work(set5: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    import refsr.methods

    monkeypatch.setattr(refsr.methods, "super_resolve", lambda *a, **k: pytest.fail("computed before checking OUT"))
    lr = tmp_path / "lr.png"
    write_image(lr, read_image(set5 / "bird.png")[:16, :16])
    ref = str(set5 / "bird.png")
    cases = {tmp_path / "o.bmp": "unknown image format '.bmp'", tmp_path: "is a folder",
             tmp_path / "file.txt" / "o.png": "is not a folder"}
    (tmp_path / "file.txt").write_text("x")
    for out, problem in cases.items():
        assert main(["sr", str(lr), ref, str(out), "--method", "bicubic"]) == 2
        assert problem in _error_line(capsys)
    assert main(["match", str(lr), ref, str(tmp_path / "m.png"), "--method", "zncc"]) == 2
    assert ".npz" in _error_line(capsys)


def test_a_reference_smaller_than_64_px_is_refused(set5: Path, tmp_path: Path, capsys) -> None:
    lr, ref = tmp_path / "lr.png", tmp_path / "ref.png"
    write_image(lr, read_image(set5 / "bird.png")[:16, :16])
    write_image(ref, read_image(set5 / "bird.png")[:3, :3])
    assert main(["sr", str(lr), str(ref), str(tmp_path / "o.png"), "--method", "refsr"]) == 2
    assert "ref.png: image is 3x3 px" in _error_line(capsys)
    assert main(["match", str(lr), str(ref), str(tmp_path / "m.npz"), "--method", "ccnet"]) == 2
    assert "ref.png: image is 3x3 px" in _error_line(capsys)
    assert main(["sr", str(lr), str(ref), str(tmp_path / "o.png"), "--method", "bicubic"]) == 0  # REF unused


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff"])
def test_outputs_take_the_format_of_their_extension_and_usual_permissions(suffix: str, set5: Path, tmp_path: Path) -> None:
    out = tmp_path / f"lr{suffix}"
    assert main(["degrade", str(set5 / "bird.png"), str(out)]) == 0
    magic = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff", ".tiff": b"II*\x00"}[suffix]
    assert out.read_bytes()[:4].startswith(magic[:3])
    assert read_image(out).shape == (36, 36, 3)
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    out.chmod(0o640)
    assert main(["degrade", str(set5 / "bird.png"), str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask
