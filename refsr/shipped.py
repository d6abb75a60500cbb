"""Shipped networks by name: where their weights are, whether they ship, their sha256, load (eval mode), save."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from refsr.archs.ccnet import CCNet
from refsr.archs.srresnet import SRResNet
from refsr.archs.ssnet import SSNet

WEIGHTS_DIR = Path(os.environ.get("REFSR_WEIGHTS", Path(__file__).parent / "weights"))



@dataclass(frozen=True)
class Network:
    """A shipped network: how to build it, and which `refsr train` trainer makes its weights."""
    build: Callable[[], nn.Module]
    trainer: str

    @property
    def how_to_train(self) -> str:
        return f"refsr train {self.trainer} --config cpu"


NETWORKS: dict[str, Network] = {
    "ccnet": Network(CCNet, "ccnet"),
    "srresnet": Network(lambda: SRResNet("sub-pixel"), "srresnet"),
    "srresnet_nn": Network(lambda: SRResNet("nn"), "srresnet"),
    "ssnet": Network(SSNet, "ssnet"),
}


class MissingWeightsError(FileNotFoundError):
    pass


def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.pt"


def available(name: str) -> bool:
    return weights_path(name).is_file()


def weights_sha256(name: str) -> str:
    return hashlib.sha256(weights_path(name).read_bytes()).hexdigest()


def describe_weights(names) -> str:
    """The named shipped weights by the first 12 hex digits of their sha256, for benchmark headers."""
    return ", ".join(f"{n} {weights_sha256(n)[:12]}" for n in names)


def sidecar_of(path: Path) -> dict:
    """The JSON sidecar next to a weights file (empty if absent)."""
    path = Path(path).with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else {}


def sidecar(name: str) -> dict:
    """The JSON sidecar saying how the shipped weights `name` were made."""
    return sidecar_of(weights_path(name))


_CACHE: dict[tuple[str, str], nn.Module] = {}


def load_file(name: str, path: Path, device: torch.device | str = "cpu") -> nn.Module:
    """The named network with the weights in `path`, in eval mode on `device`."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"{path}: no trained weights; train them with `{NETWORKS[name].how_to_train}`")
    model = NETWORKS[name].build()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.to(device).eval()


def load(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The named network with its shipped weights, in eval mode on `device` (cached per process)."""
    key = (name, str(device))
    if key not in _CACHE:
        _CACHE[key] = load_file(name, weights_path(name), device)
    return _CACHE[key]


def save(model: nn.Module, path: Path, meta: dict) -> None:
    """Write `path` (.pt state dict) and its JSON sidecar atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)
    meta = {**meta, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
