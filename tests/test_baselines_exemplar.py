"""refsr.baselines.exemplar: pasting gradient-matched reference patches rebuilds an HR image its reference contains."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.baselines.exemplar import exemplar_super_resolve
from refsr.degrade import downsample, upsample


def _textured_hr(h: int, w: int, seed: int) -> torch.Tensor:
    """A (1, 3, h, w) image in [0, 1] with texture at every scale: bicubic-smoothed noise plus fine noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(1, 3, h // 4, w // 4, generator=g), size=(h, w), mode="bicubic",
                           align_corners=False)
    return (0.7 * coarse + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _mae(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


def test_the_hr_image_as_its_own_reference_is_rebuilt() -> None:
    hr = _textured_hr(96, 80, seed=0)
    lr = downsample(hr.clone())
    sr = exemplar_super_resolve(lr, hr, search=16)
    torch.testing.assert_close(sr, hr, rtol=0, atol=1e-5)


def test_a_reference_holding_the_hr_image_at_an_offset_rebuilds_it() -> None:
    hr = _textured_hr(96, 96, seed=1)
    ref = _textured_hr(176, 160, seed=2)
    dy, dx = 40, 24  # multiples of 8: the blurred reference is the blurred input, shifted
    ref[..., dy : dy + 96, dx : dx + 96] = hr
    lr = downsample(hr.clone())
    sr = exemplar_super_resolve(lr, ref, search=48)
    torch.testing.assert_close(sr, hr, rtol=0, atol=1e-5)


def test_the_match_is_only_searched_within_the_radius() -> None:
    hr = _textured_hr(96, 96, seed=3)
    ref = _textured_hr(176, 160, seed=4)
    ref[..., 40:136, 24:120] = hr
    lr = downsample(hr.clone())
    near = _mae(exemplar_super_resolve(lr, ref, search=48), hr)
    far = _mae(exemplar_super_resolve(lr, ref, search=16), hr)  # the copy is 40 rows away: out of reach
    assert near < 1e-4 and far > 0.5 * _mae(upsample(lr).clamp(0, 1), hr)


def test_a_constant_reference_gives_that_constant() -> None:
    g = torch.Generator().manual_seed(5)
    lr = torch.rand(1, 3, 10, 12, generator=g)
    colour = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)
    sr = exemplar_super_resolve(lr, colour.expand(1, 3, 64, 72).clone(), search=20)
    torch.testing.assert_close(sr, colour.expand_as(sr), rtol=0, atol=1e-6)


@pytest.mark.parametrize("h, w", [(8, 8), (9, 13), (12, 10)])
def test_output_is_8x_float_and_within_the_reference_range(h: int, w: int) -> None:
    g = torch.Generator().manual_seed(h * w)
    lr = torch.rand(1, 3, h, w, generator=g)
    ref = 0.25 + 0.5 * torch.rand(1, 3, 80, 96, generator=g)  # values in [0.25, 0.75]
    sr = exemplar_super_resolve(lr, ref, search=24)
    assert sr.shape == (1, 3, 8 * h, 8 * w) and sr.dtype == torch.float32
    assert sr.min() >= ref.min() - 1e-6 and sr.max() <= ref.max() + 1e-6  # averages of reference pixels


def test_progress_is_shown_when_asked_and_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    hr = _textured_hr(64, 64, seed=6)
    lr = downsample(hr.clone())
    quiet = exemplar_super_resolve(lr, hr, search=8)
    assert capsys.readouterr().err == ""
    shown = exemplar_super_resolve(lr, hr, search=8, progress=True)
    assert "exemplar" in capsys.readouterr().err
    assert torch.equal(quiet, shown)
