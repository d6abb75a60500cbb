"""The `refsr` method's output on a validation crop, pinned: a refactor must not change a number.

The golden file holds the 8x8 block means of the fp32 reconstruction of a 32x32 LR crop of the light
field's validation target (docs/method.md "HCI light field"), with the sha256 of the weights it was
made with. Block means, compared to 1e-6, hide last-bit differences of summation order between
CPUs (bench/results/design_notes.md), not real changes. After an intended change of the numerics
or the weights, rewrite it:

    .venv/bin/python tests/test_refsr_golden.py --write
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from refsr import shipped
from refsr.datasets import DEFAULT_DATA, HCI, LF_QUALITY_PAIR
from refsr.degrade import SCALE, degrade
from refsr.io.lightfield import read_hci
from refsr.methods import METHODS, refsr_models
from refsr.synthesis import refsr_super_resolve
from refsr.tensors import to_tensor

GOLDEN = Path(__file__).parent / "golden" / "refsr_lightfield_crop.json"
CROP = (128, 192, 256)  # HR top, left, side of the target crop


def reconstruct(data_root: Path) -> np.ndarray:
    """(3, 32, 32) block means of the fp32 refsr output on the crop, full reference, search +-100."""
    lf = read_hci(data_root / HCI)
    (tu, tv), (ru, rv) = LF_QUALITY_PAIR
    y, x, side = CROP
    lr = to_tensor(degrade(lf.views[tu, tv, y : y + side, x : x + side]))
    torch.manual_seed(0)
    sr, _ = refsr_super_resolve(lr, to_tensor(lf.views[ru, rv]), refsr_models("cpu"), precision="fp32")
    return sr[0].reshape(3, side // SCALE, SCALE, side // SCALE, SCALE).mean((2, 4)).numpy()


def weights_sha() -> dict[str, str]:
    return {name: shipped.weights_sha256(name) for name in METHODS["refsr"].weights}


def test_refsr_output_unchanged(data_root):
    golden = json.loads(GOLDEN.read_text())
    assert golden["weights"] == weights_sha(), ("shipped weights changed since the golden file was written; "
                                                "rewrite it: python tests/test_refsr_golden.py --write")
    got = reconstruct(data_root)
    want = np.asarray(golden["block_means"], dtype=np.float32)
    assert np.abs(got - want).max() <= 1e-6


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    means = reconstruct(DEFAULT_DATA)
    GOLDEN.write_text(json.dumps({"pair": f"hci/antinous {LF_QUALITY_PAIR[0]}<-{LF_QUALITY_PAIR[1]}", "crop": CROP,
                                  "weights": weights_sha(), "block_means": np.round(means, 7).tolist()}) + "\n")
    print(f"wrote {GOLDEN}")
