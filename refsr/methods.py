"""Super-resolution methods behind `refsr sr`: one entry point, one registry."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from refsr import models
from refsr.backproject import back_project as back_project_fn
from refsr.degrade import SCALE, upsample
from refsr.devices import pick_device
from refsr.tensors import to_image, to_tensor

Result = tuple[torch.Tensor, torch.Tensor | None]  # (SR (1, 3, 8h, 8w), confidence (8h, 8w) or None)


def _bicubic(lr: torch.Tensor, ref: torch.Tensor, **_: object) -> Result:
    return upsample(lr, SCALE, "bicubic"), None


def _srresnet(name: str) -> Callable[..., Result]:
    def run(lr: torch.Tensor, ref: torch.Tensor, **_: object) -> Result:
        return models.load(name, lr.device)(lr), None
    return run


def _sliding(lr: torch.Tensor, ref: torch.Tensor, progress: bool = False, **_: object) -> Result:
    from refsr.sisr import sliding_super_resolve
    return sliding_super_resolve(models.load("srresnet_nn", lr.device), lr, progress=progress), None


def _exemplar(lr: torch.Tensor, ref: torch.Tensor, search: int = 100, **_: object) -> Result:
    from refsr.exemplar import exemplar_super_resolve
    return exemplar_super_resolve(lr, ref, search), None


def refsr_models(device: torch.device | str):
    """The shipped CC-Net, SRResNet+NN and SS-Net as `refsr.synthesis.RefSRModels` on `device`."""
    from refsr.synthesis import RefSRModels
    return RefSRModels(*(models.load(n, device) for n in METHOD_WEIGHTS["refsr"]))


def _refsr(lr: torch.Tensor, ref: torch.Tensor, fusion: str = "mask", search: int = 100, progress: bool = False,
           precision: str = "auto", **_: object) -> Result:
    from refsr.synthesis import refsr_super_resolve
    return refsr_super_resolve(lr, ref, refsr_models(lr.device), fusion=fusion, search=search, progress=progress,
                               precision=precision)


def _flow_warp(lr: torch.Tensor, ref: torch.Tensor, flow: str = "dis", **_: object) -> Result:
    from refsr.baselines.flow_warp import flow_warp_super_resolve
    return flow_warp_super_resolve(lr, ref, flow)


# name -> function(lr (1,3,h,w), ref (1,3,H,W), *, fusion, search, flow, progress, precision) -> (SR, confidence)
METHODS: dict[str, Callable[..., Result]] = {
    "refsr": _refsr,
    "bicubic": _bicubic,
    "srresnet": _srresnet("srresnet"),
    "srresnet-nn": _srresnet("srresnet_nn"),
    "srresnet-nn-sliding": _sliding,
    "exemplar": _exemplar,
    "flow-warp": _flow_warp,
}
# Methods that also return a per-pixel confidence (refsr: fusion weight sum; flow-warp: blend weight).
CONFIDENCE_METHODS = frozenset({"refsr", "flow-warp"})
# Back-projection iterations applied after a method unless the caller says otherwise.
DEFAULT_BACK_PROJECT = {"flow-warp": 10}
# The shipped networks each method needs (the pipeline records their sha256 with every run).
METHOD_WEIGHTS: dict[str, tuple[str, ...]] = {
    "refsr": ("ccnet", "srresnet_nn", "ssnet"),
    "bicubic": (),
    "srresnet": ("srresnet",),
    "srresnet-nn": ("srresnet_nn",),
    "srresnet-nn-sliding": ("srresnet_nn",),
    "exemplar": (),
    "flow-warp": (),
}


@torch.no_grad()
def super_resolve(lr: np.ndarray, ref: np.ndarray, method: str = "refsr", *, fusion: str = "mask",
                  device: str = "auto", progress: bool = False, search: int = 100, flow: str = "dis",
                  back_project: int | None = None, precision: str = "auto",
                  return_confidence: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Super-resolve uint8 LR (h, w, 3) with the uint8 HR reference; returns uint8 (8h, 8w, 3).

    `back_project` iterations follow the method (default: DEFAULT_BACK_PROJECT, else none).
    `precision` ('auto' | 'fp32' | 'bf16', refsr.precision) is the refsr networks' arithmetic. With
    `return_confidence`, also the per-pixel confidence (refsr: fusion weight sum; flow-warp: blend weight).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    dev = pick_device(device)
    lr_t = to_tensor(lr, dev)
    sr, confidence = METHODS[method](lr_t, to_tensor(ref, dev), fusion=fusion, search=search, flow=flow,
                                     progress=progress, precision=precision)
    iterations = DEFAULT_BACK_PROJECT.get(method, 0) if back_project is None else back_project
    if iterations:
        sr = back_project_fn(sr, lr_t, iterations)
    image = to_image(sr[0])
    if not return_confidence:
        return image
    return image, None if confidence is None else confidence.float().cpu().numpy()
