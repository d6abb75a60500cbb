"""Pack ../shared/data into a folder small enough to carry to the device machine (64 MiB), and unpack it there.

Sintel flows (41 MB as .flo) travel as int16 in 1/16 px, zlib-compressed (5 MB), and are written back
as .flo on the device; the Sintel clean pass of the validation clips stays behind (the trainers then
validate on the final pass alone). 8-bit RGB PNGs travel as lossless WebP (about 40 % smaller) and are
written back as PNGs of the same pixels. Everything else is copied byte for byte.
"""
from __future__ import annotations

import shutil
import sys
from multiprocessing import Pool
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from refsr.datasets import VALIDATION_CLIPS
from refsr.io.flo import read_flo, write_flo

FLOW_SCALE = 16
PACKED = "sintel/training/flow_q16.npz"
WEBP = ".webp"


def pack_file(src: Path, dst: Path) -> None:
    """Copy one file; an 8-bit RGB PNG becomes `dst` + '.webp' (lossless)."""
    if src.suffix.lower() == ".png":
        image = iio.imread(src)
        if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            iio.imwrite(dst.with_name(dst.name + WEBP), image, extension=WEBP, lossless=True)
            return
    shutil.copy2(src, dst)


def unpack_file(path: Path) -> None:
    """Write `x.png.webp` back as `x.png` (same pixels) and remove it."""
    iio.imwrite(path.with_suffix(""), iio.imread(path, extension=WEBP))
    path.unlink()


def pack(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    jobs = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or rel.parts[:3] == ("sintel", "training", "flow"):
            continue
        if rel.parts[:3] == ("sintel", "training", "clean") and rel.parts[3] in VALIDATION_CLIPS:
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        jobs.append((path, dst / rel))
    with Pool() as pool:
        pool.starmap(pack_file, jobs)
    flows = {str(p.relative_to(src / "sintel/training/flow")): np.rint(read_flo(p) * FLOW_SCALE).astype(np.int16)
             for p in sorted((src / "sintel/training/flow").rglob("*.flo"))}
    np.savez_compressed(dst / PACKED, **flows)


def unpack(folder: Path) -> None:
    with np.load(folder / PACKED) as flows:
        for rel in flows.files:
            write_flo(folder / "sintel/training/flow" / rel, flows[rel].astype(np.float32) / FLOW_SCALE)
    with Pool() as pool:
        pool.map(unpack_file, sorted(folder.rglob("*.png" + WEBP)))


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        pack(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        unpack(Path(sys.argv[2]))
