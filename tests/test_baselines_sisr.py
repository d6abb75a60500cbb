"""refsr.baselines.sisr: the sliding SRResNet averages the x8 outputs of 24x24 LR windows at stride 2 into place."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from refsr.archs.srresnet import SRResNet
from refsr.baselines.sisr import WINDOW, WINDOW_STRIDE, sliding_super_resolve


class _Nearest(nn.Module):
    """A per-pixel 'network': nearest x8, so every window agrees and the average is the whole image's output."""

    scale = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _small_srresnet(seed: int = 0) -> SRResNet:
    """A tiny random SRResNet whose output depends on the whole window (to_rgb not zero, as trained)."""
    torch.manual_seed(seed)
    net = SRResNet("nn", channels=4, blocks=1)
    nn.init.normal_(net.to_rgb.weight, std=0.05)
    return net.eval()


def _brute_force(net: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """Every window of side min(24, h, w) at stride 2 of the replicate-padded LR, run alone and averaged."""
    h, w = lr.shape[-2:]
    s, win = net.scale, min(WINDOW, h, w)
    hp, wp = h + (h - win) % WINDOW_STRIDE, w + (w - win) % WINDOW_STRIDE  # the last window ends on the edge
    padded = F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate")
    total = torch.zeros(1, 3, hp * s, wp * s)
    count = torch.zeros(1, 1, hp * s, wp * s)
    for y in range(0, hp - win + 1, WINDOW_STRIDE):
        for x in range(0, wp - win + 1, WINDOW_STRIDE):
            with torch.no_grad():
                total[..., y * s : (y + win) * s, x * s : (x + win) * s] += net(padded[..., y : y + win, x : x + win])
            count[..., y * s : (y + win) * s, x * s : (x + win) * s] += 1
    assert count.min() >= 1
    return (total / count)[..., : h * s, : w * s]


def _lr(h: int, w: int, seed: int) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_window_constants() -> None:
    assert (WINDOW, WINDOW_STRIDE) == (24, 2)


@pytest.mark.parametrize("h, w", [(24, 24), (27, 30), (10, 13), (31, 25)])
def test_a_per_pixel_network_gives_its_whole_image_output(h: int, w: int) -> None:
    lr = _lr(h, w, seed=h + w)
    torch.testing.assert_close(sliding_super_resolve(_Nearest(), lr), F.interpolate(lr, scale_factor=8),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("h, w", [(27, 25), (26, 24), (12, 9)])
def test_equals_running_every_window_alone_and_averaging(h: int, w: int) -> None:
    net = _small_srresnet()
    lr = _lr(h, w, seed=h * w)
    sr = sliding_super_resolve(net, lr)
    assert sr.shape == (1, 3, 8 * h, 8 * w)
    torch.testing.assert_close(sr, _brute_force(net, lr), rtol=1e-5, atol=1e-5)


def test_one_window_is_the_network_on_the_image() -> None:
    net = _small_srresnet(seed=1)
    lr = _lr(WINDOW, WINDOW, seed=2)
    with torch.no_grad():
        whole = net(lr)
    torch.testing.assert_close(sliding_super_resolve(net, lr), whole, rtol=1e-5, atol=1e-5)


def test_the_batch_size_changes_nothing() -> None:
    net = _small_srresnet(seed=2)
    lr = _lr(29, 28, seed=3)  # 4 x 3 windows
    torch.testing.assert_close(sliding_super_resolve(net, lr, batch=5), sliding_super_resolve(net, lr, batch=64),
                               rtol=1e-5, atol=1e-6)


def test_progress_is_shown_when_asked_and_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    net = _small_srresnet(seed=3)
    lr = _lr(26, 26, seed=4)
    quiet = sliding_super_resolve(net, lr, batch=2)
    assert capsys.readouterr().err == ""
    shown = sliding_super_resolve(net, lr, batch=2, progress=True)
    assert capsys.readouterr().err != ""
    assert torch.equal(quiet, shown)
