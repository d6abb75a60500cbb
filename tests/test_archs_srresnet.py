"""refsr.archs.srresnet: shapes, the bicubic start and the two up-sampling variants (random weights)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.archs.srresnet import SRResNet, SRResNetBody


@pytest.mark.parametrize("arch", ["nn", "sub-pixel"])
@pytest.mark.parametrize("scale", [2, 8])
def test_srresnet_starts_as_bicubic(arch: str, scale: int) -> None:
    torch.manual_seed(0)
    net = SRResNet(arch, channels=8, blocks=2, scale=scale).eval()
    lr = torch.rand(2, 3, 6, 5)
    with torch.no_grad():
        out = net(lr)
    assert out.shape == (2, 3, 6 * scale, 5 * scale)
    bicubic = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.equal(out, bicubic)  # the residual head starts at zero


def test_srresnet_learns_a_residual_once_its_head_is_not_zero() -> None:
    torch.manual_seed(0)
    net = SRResNet("nn", channels=8, blocks=1).eval()
    torch.nn.init.normal_(net.to_rgb.weight, std=0.1)
    lr = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert not torch.allclose(net(lr), F.interpolate(lr, scale_factor=8, mode="bicubic", align_corners=False))


@pytest.mark.parametrize("arch", ["sub-pixel", "nn"])
@torch.no_grad()
def test_srresnet_shapes(arch: str) -> None:
    net = SRResNet(arch).eval()
    lr = torch.rand(2, 3, 7, 11)
    assert net.body(lr).shape == (2, 64, 7, 11)
    assert net(lr).shape == (2, 3, 56, 88)


def test_body_keeps_the_lr_size() -> None:
    body = SRResNetBody(channels=16, blocks=3).eval()
    with torch.no_grad():
        assert body(torch.rand(1, 3, 7, 9)).shape == (1, 16, 7, 9)


def test_unknown_arch_or_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SRResNet arch 'deconv'"):
        SRResNet("deconv")
    with pytest.raises(ValueError, match="scale must be 2, 4 or 8, got 3"):
        SRResNet("nn", scale=3)
