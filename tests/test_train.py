"""Trainers end to end on real data with tiny budgets: weights + sidecar, resuming, starting from given weights."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from refsr.shipped import available, sidecar, weights_path
from refsr.train import ccnet as ccnet_train
from refsr.train.loop import Schedule


def _tiny(iterations: int) -> ccnet_train.Config:
    return ccnet_train.Config(crop=48, batch=1, queries=64, schedule=Schedule(iterations, checkpoint_every=2), pool=1,
                              refresh=1000, bn_batches=1, val_crops=2)


def test_ccnet_trains_saves_and_resumes(data_root: Path, tmp_path: Path) -> None:
    meta = ccnet_train.train(_tiny(2), data_root, tmp_path, device="cpu", show_progress=False)
    assert meta["iterations"] == 2 and meta["init"] is None and meta["total_iterations"] == 2
    side = json.loads((tmp_path / "ccnet.json").read_text())
    assert side["sha256"] == hashlib.sha256((tmp_path / "ccnet.pt").read_bytes()).hexdigest()
    assert "alley_1" in " ".join(side["data"]["validation"])
    first = torch.load(tmp_path / "ccnet.pt", weights_only=True)
    meta = ccnet_train.train(_tiny(3), data_root, tmp_path, device="cpu", show_progress=False)
    assert meta["iterations"] == 3  # resumed from the checkpoint at 2, one more step
    again = torch.load(tmp_path / "ccnet.pt", weights_only=True)
    assert any(not torch.equal(first[k], again[k]) for k in first)


@pytest.mark.skipif(not available("ccnet"), reason="shipped ccnet weights missing")
def test_ccnet_init_starts_from_the_given_weights(data_root: Path, tmp_path: Path) -> None:
    shipped = weights_path("ccnet")
    meta = ccnet_train.train(_tiny(0), data_root, tmp_path, device="cpu", show_progress=False, init=shipped)
    assert meta["init"]["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    side = sidecar("ccnet")
    assert meta["total_iterations"] == side.get("total_iterations", side["iterations"])
    saved = torch.load(tmp_path / "ccnet.pt", weights_only=True)
    start = torch.load(shipped, weights_only=True)
    assert all(torch.equal(saved[k], start[k]) for k in start)  # zero steps: the weights it started from


def test_init_from_a_missing_file_is_a_clear_error(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        ccnet_train.train(_tiny(0), data_root, tmp_path, device="cpu", show_progress=False, init=tmp_path / "nope.pt")


def test_init_keeps_new_layers_and_refuses_other_networks(tmp_path: Path) -> None:
    from refsr.archs.ccnet import CCNet
    from refsr.archs.ssnet import SSNet
    from refsr.train.loop import initialise

    old = {k: v for k, v in SSNet().state_dict().items() if not k.startswith("to_gate.")}
    torch.save(old, tmp_path / "old.pt")
    net = SSNet()
    started = initialise(net, tmp_path / "old.pt")
    assert started["new_layers"] == ["to_gate.bias", "to_gate.weight"]
    assert all(torch.equal(net.state_dict()[k], v) for k, v in old.items())
    torch.save(CCNet().state_dict(), tmp_path / "ccnet.pt")
    with pytest.raises(ValueError, match="not weights of this network"):
        initialise(SSNet(), tmp_path / "ccnet.pt")
