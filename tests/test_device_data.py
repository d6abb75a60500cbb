"""scripts/device_data.py: what travels to a GPU machine comes back as the same pixels, flows and bytes."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from refsr.io.flo import read_flo, write_flo

ROOT = Path(__file__).resolve().parents[1]


def _device_data():
    spec = importlib.util.spec_from_file_location("device_data", ROOT / "scripts" / "device_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["device_data"] = module  # its worker processes find their functions by module name
    spec.loader.exec_module(module)
    return module


def test_pack_then_unpack_gives_the_same_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src, packed = tmp_path / "data", tmp_path / "packed"
    frames = src / "sintel/training/final/alley_9"
    frames.mkdir(parents=True)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    iio.imwrite(frames / "frame_0001.png", rgb)
    iio.imwrite(src / "disp.png", grey)
    (src / "notes.txt").write_text("as it is")
    flow = rng.normal(0, 5, (20, 30, 2)).astype(np.float32)
    (src / "sintel/training/flow/alley_9").mkdir(parents=True)
    write_flo(src / "sintel/training/flow/alley_9/frame_0001.flo", flow)

    device_data = _device_data()
    device_data.pack(src, packed)
    assert (packed / "sintel/training/final/alley_9/frame_0001.png.webp").is_file()  # RGB travels as WebP
    assert not (packed / "sintel/training/flow").exists()
    device_data.unpack(packed)

    assert np.array_equal(iio.imread(packed / "sintel/training/final/alley_9/frame_0001.png"), rgb)
    assert not list(packed.rglob("*.webp"))
    assert (packed / "disp.png").read_bytes() == (src / "disp.png").read_bytes()  # grey: copied as it is
    assert (packed / "notes.txt").read_text() == "as it is"
    back = read_flo(packed / "sintel/training/flow/alley_9/frame_0001.flo")
    assert np.abs(back - flow).max() <= 0.5 / device_data.FLOW_SCALE + 1e-6
