"""refsr.backproject: x <- x + bicubic_up(lr - degrade(x)) drives the LR residual down, leaves a consistent image."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.backproject import back_project
from refsr.degrade import downsample, upsample


def _smooth_hr(h: int = 64, w: int = 56, seed: int = 0, scale: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # fewer random samples than LR pixels: content the LR grid resolves
    coarse = torch.rand(1, 3, max(2, h // scale * 3 // 4), max(2, w // scale * 3 // 4), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _residual(sr: torch.Tensor, lr: torch.Tensor, scale: int = 8) -> float:
    return float((downsample(sr, scale) - lr).abs().mean())


def test_zero_iterations_return_the_input():
    sr = torch.rand(1, 3, 32, 40)
    assert torch.equal(back_project(sr, downsample(sr.clone(), 8), 0), sr)


def test_a_consistent_image_is_kept():
    sr = _smooth_hr()
    lr = downsample(sr.clone(), 8)  # sr degrades to exactly lr: nothing to correct
    torch.testing.assert_close(back_project(sr, lr, 5), sr, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["bicubic", "noisy"])
def test_the_lr_residual_falls_with_every_iteration(kind):
    hr = _smooth_hr(seed=1)
    lr = downsample(hr.clone(), 8)
    if kind == "bicubic":
        sr = upsample(lr, 8, "bicubic").clamp(0, 1)
    else:
        g = torch.Generator().manual_seed(2)
        sr = (hr + 0.1 * torch.randn(hr.shape, generator=g)).clamp(0, 1)
    residuals = [_residual(back_project(sr, lr, n), lr) for n in (0, 1, 2, 5, 10)]
    assert all(a > b for a, b in zip(residuals, residuals[1:])), residuals
    assert residuals[-1] < 0.05 * residuals[0], residuals


def test_back_projection_brings_a_bicubic_guess_closer_to_the_truth():
    hr = _smooth_hr(seed=3)
    lr = downsample(hr.clone(), 8)
    sr = upsample(lr, 8, "bicubic").clamp(0, 1)
    before = float((sr - hr).abs().mean())
    after = float((back_project(sr, lr, 10) - hr).abs().mean())
    assert after < before


def test_output_shape_and_range():
    g = torch.Generator().manual_seed(4)
    sr = torch.rand(2, 3, 48, 64, generator=g)
    lr = torch.rand(2, 3, 6, 8, generator=g)  # unrelated LR: big corrections, still clamped
    out = back_project(sr, lr, 3)
    assert out.shape == sr.shape and out.min() >= 0 and out.max() <= 1


def test_other_scales():
    hr = _smooth_hr(32, 48, seed=5, scale=4)
    lr = downsample(hr.clone(), 4)
    sr = upsample(lr, 4, "bicubic").clamp(0, 1)
    assert _residual(back_project(sr, lr, 5, scale=4), lr, 4) < 0.2 * _residual(sr, lr, 4)


def test_progress_shows_the_iterations_and_changes_nothing(capsys):
    hr = _smooth_hr(seed=6)
    lr = downsample(hr.clone(), 8)
    sr = upsample(lr, 8, "bicubic").clamp(0, 1)
    quiet = back_project(sr, lr, 4)
    assert capsys.readouterr().err == ""
    shown = back_project(sr, lr, 4, progress=True)
    assert "back-project" in capsys.readouterr().err
    assert torch.equal(quiet, shown)
