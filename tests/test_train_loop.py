"""The shared training loop: schedule, decay, logging, checkpoints and resuming (a tiny synthetic problem)."""
from __future__ import annotations

import pytest
import torch

from refsr.train import loop
from refsr.train.loop import Schedule


def test_cosine_decay_runs_from_one_to_the_final_fraction():
    s = Schedule(100, final_lr=0.1)
    assert s.lr_factor(0) == pytest.approx(1.0)
    assert s.lr_factor(50) == pytest.approx(0.55)
    assert s.lr_factor(100) == pytest.approx(0.1) and s.lr_factor(500) == pytest.approx(0.1)
    assert all(s.lr_factor(i) >= s.lr_factor(i + 1) for i in range(100))
    assert Schedule(10).lr_factor(7) == 1.0  # constant by default


def _problem(seed: int = 0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(32, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return net, opt, lambda i: {"net": torch.nn.functional.mse_loss(net(x), y)}


def test_run_logs_validates_decays_and_resumes(tmp_path):
    net, opt, step = _problem()
    seen_lr = []

    def validate():
        seen_lr.append(opt.param_groups[0]["lr"])
        return {"val_weight": net.weight.detach().abs().sum().item()}

    schedule = Schedule(6, final_lr=0.5, log_every=2, checkpoint_every=4)
    first = loop.run("t", Schedule(4, final_lr=0.5, log_every=2, checkpoint_every=4), tmp_path / "t.ckpt",
                     {"net": net}, {"net": opt}, step, validate, show_progress=False)
    assert first.step == 4 and [e["step"] for e in first.log] == [2, 4]
    assert "val_weight" in first.log[1] and "val_weight" not in first.log[0]
    assert first.log[1]["train_loss"] < first.log[0]["train_loss"]
    # a second process with a longer schedule resumes at step 4 from the checkpoint
    net2, opt2, step2 = _problem(seed=1)
    second = loop.run("t", schedule, tmp_path / "t.ckpt", {"net": net2}, {"net": opt2}, step2, show_progress=False)
    assert second.step == 6 and [e["step"] for e in second.log] == [2, 4, 6]
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * schedule.lr_factor(5))
    assert seen_lr and seen_lr[0] < 0.1  # the rate had decayed by the validation at step 4
    # each process that trained the run is one leg (where a run moved from a GPU to a CPU, say)
    assert [(g["from_step"], g["to_step"]) for g in second.legs] == [(0, 4), (4, 6)]
    assert all(g["device"] == loop.machine() and g["seconds"] >= 0 for g in second.legs)


def test_run_with_a_spent_budget_does_nothing(tmp_path):
    net, opt, step = _problem()
    before = net.weight.detach().clone()
    done = loop.run("t", Schedule(0), tmp_path / "t.ckpt", {"net": net}, {"net": opt}, step, show_progress=False)
    assert done.step == 0 and done.log == [] and torch.equal(net.weight, before)


def test_command_line_overrides_the_config_schedule_and_rate():
    from refsr.train.ssnet import CONFIGS

    parser = loop.parser("ssnet", "test", CONFIGS)
    config = loop.configure(parser.parse_args(["--iterations", "7", "--lr", "5e-5", "--final-lr", "0.1"]), CONFIGS)
    assert (config.schedule.iterations, config.lr, config.schedule.final_lr) == (7, 5e-5, 0.1)
    default = loop.configure(parser.parse_args([]), CONFIGS)
    assert (default.lr, default.schedule.final_lr) == (CONFIGS["cpu"].lr, CONFIGS["cpu"].schedule.final_lr)
