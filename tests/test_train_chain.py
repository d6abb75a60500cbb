"""The training chain end to end on real data with tiny budgets: order, SS-Net on the chain's own nets, resuming."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from refsr.errors import InputError
from refsr.shipped import WEIGHTS_DIR
from refsr.train import ccnet, chain, srresnet, ssnet
from refsr.train.loop import Schedule


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> str:
    """A 'tiny' config of every stage: 2 steps each, small crops, small validations."""
    monkeypatch.setitem(srresnet.CONFIGS, "tiny", srresnet.Config(patch=6, batch=1, schedule=Schedule(2), amp=False))
    monkeypatch.setitem(ccnet.CONFIGS, "tiny", ccnet.Config(crop=48, batch=1, queries=64, schedule=Schedule(2),
                                                            pool=1, refresh=1000, bn_batches=1, val_crops=2))
    monkeypatch.setitem(ssnet.CONFIGS, "tiny", ssnet.Config(batch=1, pool=1, refresh=1000, crop=64,
                                                            schedule=Schedule(2)))
    return "tiny"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_chain_trains_every_network_in_order_on_its_own_weights(tiny: str, data_root: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    argv = ["--config", tiny, "--data", str(data_root), "--out", str(tmp_path), "--device", "cpu"]
    assert chain.main(argv) == 0
    for name in ("srresnet", "srresnet_nn", "ccnet", "ssnet"):
        assert json.loads((tmp_path / f"{name}.json").read_text())["iterations"] == 2, name
    frozen = json.loads((tmp_path / "ssnet.json").read_text())["frozen"]
    assert frozen == {"ccnet": _sha(tmp_path / "ccnet.pt"), "srresnet_nn": _sha(tmp_path / "srresnet_nn.pt")}
    out = capsys.readouterr().out
    assert "chain: complete" in out
    for name in ("srresnet", "srresnet_nn", "ccnet", "ssnet"):  # the closing summary, from the sidecars
        assert f"  {name}: 2 iterations, " in out, out
    assert "val_psnr_refsr" in out.split("  ssnet: ")[1], out
    before = {p.name: _sha(p) for p in tmp_path.glob("*.pt")}
    assert chain.main(argv) == 0  # everything done: nothing retrained
    assert capsys.readouterr().out.count("skipped") == 3
    assert {p.name: _sha(p) for p in tmp_path.glob("*.pt")} == before


@dataclass
class OneStepPerCall(Schedule):
    """A config time limit that stops each process after one step (replace() makes one per process)."""

    first: int | None = None

    def done(self, step: int, started: float) -> bool:
        self.first = step if self.first is None else self.first
        return step >= self.iterations or step > self.first


def test_a_stopped_chain_continues_with_the_same_command(tiny: str, data_root: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--config", tiny, "--data", str(data_root), "--out", str(tmp_path), "--device", "cpu"]
    assert chain.main(argv + ["--minutes", "1e-9"]) == 0  # no time left: nothing starts
    assert "run the same command again" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.pt"))
    one_step = srresnet.Config(patch=6, batch=1, schedule=OneStepPerCall(2), amp=False)
    monkeypatch.setitem(srresnet.CONFIGS, tiny, one_step)
    assert chain.main(argv) == 0
    side = json.loads((tmp_path / "srresnet.json").read_text())
    # the stage stopped on its config's limit after one step and was resumed at once, not restarted
    assert [(leg["from_step"], leg["to_step"]) for leg in side["legs"]] == [(0, 1), (1, 2)]
    assert (tmp_path / "ssnet.pt").is_file() and "chain: complete" in capsys.readouterr().out


def test_the_chain_never_trains_over_weights_it_did_not_make(data_root: Path, tmp_path: Path) -> None:
    (tmp_path / "ssnet.json").write_text((WEIGHTS_DIR / "ssnet.json").read_text())  # started from other weights
    with pytest.raises(InputError, match="ssnet.json: started from other weights"):
        chain.main(["--data", str(data_root), "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ssnet.json"]
