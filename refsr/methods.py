"""Super-resolution methods behind `refsr sr`: one record per method, one entry point."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from refsr import shipped
from refsr.backproject import back_project as back_project_fn
from refsr.degrade import SCALE, upsample
from refsr.devices import pick_device
from refsr.ensemble import Result, flip_ensemble
from refsr.errors import InputError
from refsr.matching.search import SEARCH
from refsr.tensors import to_image, to_tensor

OPTIONS = frozenset({"fusion", "search", "flow", "progress", "precision", "ensemble"})  # every option a method may take


@dataclass(frozen=True)
class Method:
    """One super-resolution method and what it needs.

    Attributes:
        name: the name `refsr sr --method` and the pipelines use.
        label: a human label for tables.
        run: `run(lr (1, 3, h, w), ref (1, 3, H, W), **options) -> (SR (1, 3, 8h, 8w), confidence or None)`,
            float tensors in [0, 1] on one device.
        weights: the shipped networks it needs (`refsr.shipped` names).
        confidence: whether `run` returns a per-pixel confidence (8h, 8w): how much the result leans
            on the reference there, higher = more, on the method's own scale (refsr: the fusion weight
            sum of the patches covering the pixel, as the store's `confidence` array holds it,
            conventions.md; flow-warp: [0, 1]).
        back_project: back-projection iterations applied after it unless the caller says otherwise.
        options: the keyword-only parameters of `run` (derived, a subset of OPTIONS).
        uses_reference: whether it reads the reference image at all.
        revision: raised whenever the method's output changes while its weights stay the same; part of
            a run's identity, so that a store does not resume a run the older code made.
    """

    name: str
    label: str
    run: Callable[..., Result]
    weights: tuple[str, ...] = ()
    confidence: bool = False
    back_project: int = 0
    uses_reference: bool = False
    revision: int = 0
    options: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        parameters = inspect.signature(self.run).parameters.values()
        options = frozenset(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)
        if not options <= OPTIONS:
            raise ValueError(f"method {self.name!r}: unknown options {sorted(options - OPTIONS)}")
        object.__setattr__(self, "options", options)

    def applicable(self, given: dict[str, object]) -> dict[str, object]:
        """The options in `given` that this method takes; the others do not apply to it."""
        return {k: v for k, v in given.items() if k in self.options}


def _bicubic(lr: torch.Tensor, ref: torch.Tensor) -> Result:
    return upsample(lr, SCALE, "bicubic"), None


def _srresnet(name: str) -> Callable[..., Result]:
    def run(lr: torch.Tensor, ref: torch.Tensor) -> Result:
        return shipped.load(name, lr.device)(lr), None
    return run


def _sliding(lr: torch.Tensor, ref: torch.Tensor, *, progress: bool = False) -> Result:
    from refsr.baselines.sisr import sliding_super_resolve
    return sliding_super_resolve(shipped.load("srresnet_nn", lr.device), lr, progress=progress), None


def _exemplar(lr: torch.Tensor, ref: torch.Tensor, *, search: int = SEARCH, progress: bool = False) -> Result:
    from refsr.baselines.exemplar import exemplar_super_resolve
    return exemplar_super_resolve(lr, ref, search, progress=progress), None


def refsr_models(device: torch.device | str):
    """The shipped CC-Net, SRResNet+NN and SS-Net as `refsr.synthesis.RefSRModels` on `device`."""
    from refsr.synthesis import RefSRModels
    return RefSRModels(*(shipped.load(n, device) for n in METHODS["refsr"].weights))


def _refsr(lr: torch.Tensor, ref: torch.Tensor, *, fusion: str = "mask", search: int = SEARCH, progress: bool = False,
           precision: str = "auto", ensemble: bool = False) -> Result:
    from refsr.synthesis import refsr_super_resolve
    models = refsr_models(lr.device)

    def run(lr: torch.Tensor, ref: torch.Tensor) -> Result:
        return refsr_super_resolve(lr, ref, models, fusion=fusion, search=search, progress=progress,
                                   precision=precision)

    return flip_ensemble(run, lr, ref) if ensemble else run(lr, ref)


def _flow_warp(lr: torch.Tensor, ref: torch.Tensor, *, flow: str = "dis", progress: bool = False) -> Result:
    from refsr.baselines.flow_warp import flow_warp_super_resolve
    return flow_warp_super_resolve(lr, ref, flow, progress=progress)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("refsr", "RefSR-Net (CC-Net + SS-Net)", _refsr, weights=("ccnet", "srresnet_nn", "ssnet"),
           confidence=True, back_project=10, uses_reference=True, revision=2),
    Method("bicubic", "Bicubic", _bicubic),
    Method("srresnet", "SRResNet", _srresnet("srresnet"), weights=("srresnet",)),
    Method("srresnet-nn", "SRResNet+NN", _srresnet("srresnet_nn"), weights=("srresnet_nn",)),
    Method("srresnet-nn-sliding", "SRResNet+NN+sliding", _sliding, weights=("srresnet_nn",)),
    Method("exemplar", "Exemplar (gradient matches, pasted, averaged)", _exemplar, uses_reference=True),
    Method("flow-warp", "Flow-warp (OpenCV flow, blended with bicubic)", _flow_warp, confidence=True,
           back_project=10, uses_reference=True),
)}


def default_method() -> str:
    """"refsr" once the CC-Net, SS-Net and SRResNet-NN weights are shipped, else "bicubic"."""
    return "refsr" if all(shipped.available(n) for n in METHODS["refsr"].weights) else "bicubic"


def method_weights(method: str) -> dict[str, str] | None:
    """{network: sha256} of the shipped weights `method` uses.

    Returns:
        None for a method without networks.

    Raises:
        InputError: for an unknown method, or when a network it needs has no shipped weights.
    """
    if method not in METHODS:
        raise InputError("method", f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    names = METHODS[method].weights
    if not names:
        return None
    for name in names:
        if not shipped.available(name):
            raise InputError(shipped.weights_path(name), f"method {method!r} needs these weights; train them with "
                                                         f"`{shipped.NETWORKS[name].how_to_train}`")
    return {name: shipped.weights_sha256(name) for name in names}


def _record(method: str, options: dict[str, object]) -> Method:
    """The record of `method`, once every option in `options` is one it takes."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    record = METHODS[method]
    for option in options:
        if option not in record.options:
            takes = ", ".join(sorted(record.options)) or "none"
            raise ValueError(f"method {method!r} does not take option {option!r} (its options: {takes})")
    return record


@torch.no_grad()
def super_resolve(lr: np.ndarray, ref: np.ndarray, method: str = "refsr", *, device: str = "auto",
                  back_project: int | None = None, return_confidence: bool = False, progress: bool = False,
                  **options: object) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Super-resolve uint8 LR (h, w, 3) x8 with the uint8 HR reference.

    Args:
        lr: the low-resolution image, uint8 (h, w, 3).
        ref: the high-resolution reference, uint8 (H, W, 3); methods without `uses_reference` ignore it.
        method: a name in METHODS.
        device: 'auto' | 'cpu' | 'cuda' (refsr.devices.pick_device).
        back_project: back-projection iterations after the method (None: the method's `back_project`).
        return_confidence: also return the method's per-pixel confidence (None for methods without one).
        progress: show progress bars on stderr: the method's (for methods with the "progress" option) and
            back-projection's.
        **options: the method's own options (`METHODS[method].options`): fusion ('mask' | 'average'),
            search (HR pixels), flow ('dis' | 'farneback'), precision ('auto' | 'fp32' | 'bf16'), ensemble
            (bool: also run on the mirrored pair and average, `refsr.ensemble`; twice the time).

    Returns:
        uint8 (8h, 8w, 3); with `return_confidence`, (that image, float32 (8h, 8w) or None).

    Raises:
        ValueError: for an unknown method, or an option the method does not take.
    """
    record = _record(method, options)
    if progress and "progress" in record.options:
        options = {**options, "progress": True}
    dev = pick_device(device)
    lr_t = to_tensor(lr, dev)
    sr, confidence = record.run(lr_t, to_tensor(ref, dev), **options)
    iterations = record.back_project if back_project is None else back_project
    if iterations:
        sr = back_project_fn(sr, lr_t, iterations, progress=progress)
    image = to_image(sr[0])
    if not return_confidence:
        return image
    return image, None if confidence is None else confidence.float().cpu().numpy()
