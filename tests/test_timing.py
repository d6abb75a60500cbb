"""refsr.timing: StageTimer adds up each stage's seconds (synchronising CUDA around it); NoTimer measures nothing."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch

from refsr import timing
from refsr.timing import NoTimer, StageTimer


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A fake perf_counter for refsr.timing: `clock.now` is the time; `clock.advance(s)` moves it."""
    fake = SimpleNamespace(now=100.0)
    fake.advance = lambda s: setattr(fake, "now", fake.now + s)
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: fake.now))
    return fake


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record calls of torch.cuda.synchronize instead of making them (no CUDA needed)."""
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: calls.append("sync"))
    return calls


def test_a_stage_gets_the_seconds_its_body_took(clock: SimpleNamespace) -> None:
    timer = StageTimer()
    with timer("match"):
        clock.advance(1.5)
    clock.advance(10.0)  # outside any stage: not counted
    assert timer.seconds == {"match": 1.5}


def test_repeated_stages_add_up_and_stages_stay_apart(clock: SimpleNamespace) -> None:
    timer = StageTimer("cpu")
    for seconds in (0.25, 0.5, 1.0):
        with timer("synthesis"):
            clock.advance(seconds)
        with timer("fusion"):
            clock.advance(2 * seconds)
    assert timer.seconds == pytest.approx({"synthesis": 1.75, "fusion": 3.5})
    assert timer.seconds["never"] == 0.0  # an unseen stage reads zero


def test_nested_stages_each_count_their_own_span(clock: SimpleNamespace) -> None:
    timer = StageTimer()
    with timer("outer"):
        clock.advance(1.0)
        with timer("inner"):
            clock.advance(2.0)
    assert timer.seconds == {"outer": 3.0, "inner": 2.0}


def test_real_time_is_measured() -> None:
    timer = StageTimer()
    with timer("sleep"):
        time.sleep(0.02)
    assert timer.seconds["sleep"] >= 0.02


def test_an_error_in_the_stage_propagates() -> None:
    timer = StageTimer()
    with pytest.raises(ValueError, match="boom"):
        with timer("stage"):
            raise ValueError("boom")


def test_a_cuda_timer_synchronises_before_and_after_the_stage(clock: SimpleNamespace, syncs: list[str]) -> None:
    timer = StageTimer(torch.device("cuda"))
    with timer("stage"):
        assert syncs == ["sync"]  # pending work is not billed to this stage
        clock.advance(1.0)
    assert syncs == ["sync", "sync"] and timer.seconds == {"stage": 1.0}


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_a_cpu_timer_never_synchronises(device: str | torch.device, syncs: list[str]) -> None:
    with StageTimer(device)("stage"):
        pass
    assert syncs == []


def test_no_timer_runs_the_body_and_measures_nothing(monkeypatch: pytest.MonkeyPatch, syncs: list[str]) -> None:
    monkeypatch.setattr(timing, "time", SimpleNamespace())  # reading the clock would raise AttributeError
    ran = []
    with NoTimer()("stage"):
        ran.append(True)
    assert ran == [True] and syncs == []
