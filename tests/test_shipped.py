"""refsr.shipped: one record per network, weights files with their JSON sidecars."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from refsr import shipped
from refsr.train import TRAINERS


def test_every_network_is_made_by_a_trainer() -> None:
    assert set(shipped.NETWORKS) == {"ccnet", "srresnet", "srresnet_nn", "ssnet"}
    assert all(n.trainer in TRAINERS for n in shipped.NETWORKS.values())
    assert shipped.NETWORKS["srresnet_nn"].how_to_train == "refsr train srresnet --config cpu"


def test_saved_weights_load_back_with_their_sidecar(tmp_path: Path) -> None:
    net = shipped.NETWORKS["ccnet"].build()
    path = tmp_path / "ccnet.pt"
    shipped.save(net, path, {"network": "ccnet"})
    loaded = shipped.load_file("ccnet", path)
    assert not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))
    side = shipped.sidecar_of(path)
    assert side["network"] == "ccnet" and side["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not path.with_suffix(".pt.tmp").exists()


def test_missing_weights_name_the_file_and_the_command_that_makes_them(tmp_path: Path) -> None:
    with pytest.raises(shipped.MissingWeightsError, match=r"nope\.pt.*refsr train ssnet --config cpu"):
        shipped.load_file("ssnet", tmp_path / "nope.pt")
