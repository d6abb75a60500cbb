"""Pack ../shared/data into a folder small enough to carry to the device machine (64 MiB), and unpack it there.

Sintel flows (41 MB as .flo) travel as int16 in 1/16 px, zlib-compressed (5 MB), and are written back
as .flo on the device; the Sintel clean pass is dropped except alley_2 (clean only). Everything else
is copied byte for byte.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from refsr.io.flo import read_flo, write_flo

FLOW_SCALE = 16
PACKED = "sintel/training/flow_q16.npz"


def pack(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or rel.parts[:3] == ("sintel", "training", "flow"):
            continue
        if rel.parts[:3] == ("sintel", "training", "clean") and rel.parts[3] != "alley_2":
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dst / rel)
    flows = {str(p.relative_to(src / "sintel/training/flow")): np.rint(read_flo(p) * FLOW_SCALE).astype(np.int16)
             for p in sorted((src / "sintel/training/flow").rglob("*.flo"))}
    np.savez_compressed(dst / PACKED, **flows)


def unpack(folder: Path) -> None:
    with np.load(folder / PACKED) as flows:
        for rel in flows.files:
            write_flo(folder / "sintel/training/flow" / rel, flows[rel].astype(np.float32) / FLOW_SCALE)


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        pack(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        unpack(Path(sys.argv[2]))
