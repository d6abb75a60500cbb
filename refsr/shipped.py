"""Shipped networks by name: where their weights are, whether they ship, their sha256, load (eval mode), save."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from refsr.archs.ccnet import CCNet
from refsr.archs.srresnet import SRResNet
from refsr.archs.ssnet import SSNet

WEIGHTS_DIR = Path(os.environ.get("REFSR_WEIGHTS", Path(__file__).parent / "weights"))

ARCHS: dict[str, Callable[[], nn.Module]] = {
    "ccnet": CCNet,
    "srresnet": lambda: SRResNet("sub-pixel"),
    "srresnet_nn": lambda: SRResNet("nn"),
    "ssnet": SSNet,
}
HOW_TO_TRAIN = {
    "ccnet": "refsr train ccnet --config cpu",
    "srresnet": "refsr train srresnet --config cpu",
    "srresnet_nn": "refsr train srresnet --config cpu",
    "ssnet": "refsr train ssnet --config cpu",
}


class MissingWeightsError(FileNotFoundError):
    pass


def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.pt"


def available(name: str) -> bool:
    return weights_path(name).is_file()


def weights_sha256(name: str) -> str:
    return hashlib.sha256(weights_path(name).read_bytes()).hexdigest()


def sidecar_of(path: Path) -> dict:
    """The JSON sidecar next to a weights file (empty if absent)."""
    path = Path(path).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else {}


def sidecar(name: str) -> dict:
    """The JSON sidecar saying how the shipped weights `name` were made."""
    return sidecar_of(weights_path(name))


_CACHE: dict[tuple[str, str], nn.Module] = {}


def load(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The named network with its shipped weights, in eval mode on `device` (cached per process)."""
    key = (name, str(device))
    if key not in _CACHE:
        path = weights_path(name)
        if not path.is_file():
            raise MissingWeightsError(f"{path}: no trained weights; train them with `{HOW_TO_TRAIN[name]}`")
        model = ARCHS[name]()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        _CACHE[key] = model.to(device).eval()
    return _CACHE[key]


def save(model: nn.Module, path: Path, meta: dict) -> None:
    """Write `path` (.pt state dict) and its JSON sidecar atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)
    meta = {**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
