"""What the matched reference patches give without SS-Net: pasted whole, or only their detail added to bicubic.

    python bench/paste.py [--pairs NAME ...]

The same CC-Net matches and patch fusion as `refsr` (average fusion), with SS-Net replaced by
  - paste: the matched 64x64 reference patch itself;
  - detail: bicubic + the patch's detail (`refsr.archs.ssnet.reference_detail`: the patch minus its
    own x8 degraded and upsampled version), the path SS-Net's gate opens;
next to RefSR itself (average fusion). Validation pairs (refsr.datasets), PSNR with the 8-px border
left out. This is the measurement behind SS-Net's detail gate (README, Table 3 discussion).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

from refsr.archs.ssnet import reference_detail
from refsr.datasets import (DEFAULT_DATA, LF_QUALITY_PAIR, STEREO_VALIDATION_SCENE, VALIDATION_CLIPS,
                            lightfield_pair_name, sintel_pair_name, stereo_pair_name, validation_pairs)
from refsr.degrade import crop_to_multiple, degrade
from refsr.devices import describe
from refsr.matching.search import SEARCH
from refsr.methods import refsr_models
from refsr.metrics import psnr
from refsr.synthesis import RefSRModels, refsr_super_resolve
from refsr.tensors import to_image, to_tensor

DEFAULT_PAIRS = (*(sintel_pair_name("final", clip, 2) for clip in VALIDATION_CLIPS),
                 lightfield_pair_name(*LF_QUALITY_PAIR), stereo_pair_name(STEREO_VALIDATION_SCENE))


class Paste(nn.Module):
    """Stands in for SS-Net: the reference patch as the prediction, full weight, one agreement for all."""

    def forward(self, f_lr: torch.Tensor, ref: torch.Tensor, bicubic: torch.Tensor):
        return ref, torch.ones_like(ref), torch.zeros_like(ref[:, :1])


class Detail(nn.Module):
    """Stands in for SS-Net: bicubic plus the reference patch's detail, full weight, one agreement for all."""

    def forward(self, f_lr: torch.Tensor, ref: torch.Tensor, bicubic: torch.Tensor):
        return bicubic + reference_detail(ref), torch.ones_like(ref), torch.zeros_like(ref[:, :1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS))
    args = parser.parse_args(argv)
    pairs = [p for p in validation_pairs(args.data) if p.name in args.pairs]
    if not pairs:
        raise SystemExit(f"none of {args.pairs} among the validation pairs under {args.data}")
    nets = refsr_models("cpu")
    variants = {"refsr": nets, "paste": RefSRModels(nets.ccnet, nets.srresnet_nn, Paste()),
                "detail": RefSRModels(nets.ccnet, nets.srresnet_nn, Detail())}
    print(f"PSNR dB, x8, average fusion, CC-Net matches (+-{SEARCH} px); {describe(torch.device('cpu'))}\n")
    print("| pair | " + " | ".join(variants) + " |")
    print("|---|" + "---:|" * len(variants))
    for pair in pairs:
        truth = crop_to_multiple(pair.target)
        lr, ref = to_tensor(degrade(pair.target)), to_tensor(pair.reference)
        scores = [psnr(to_image(refsr_super_resolve(lr, ref, models, fusion="average")[0][0]), truth)
                  for models in variants.values()]
        print(f"| {pair.name} | " + " | ".join(f"{v:.2f}" for v in scores) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
