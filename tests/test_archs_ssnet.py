"""refsr.archs.ssnet: shapes, the HR encoder levels, the gated reference detail, pixel shifts, the alignment check,
SP upsampling."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.archs.ssnet import (HR_CHANNELS, MAX_OFFSET, HREncoder, SSNet, lowpass_mismatch, reference_detail,
                               reference_lowpass, shift_pixels)
from refsr.io.images import read_image
from refsr.tensors import to_tensor


@torch.no_grad()
def test_hr_encoder_levels() -> None:
    feats = HREncoder()(torch.rand(3, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(3, c, s, s) for c, s in zip(HR_CHANNELS, (64, 32, 16, 8))]


@torch.no_grad()
def test_ssnet_shape() -> None:
    sr, mask, mismatch = SSNet().eval()(torch.rand(5, 64, 8, 8), torch.rand(5, 3, 64, 64), torch.rand(5, 3, 64, 64))
    assert sr.shape == (5, 3, 64, 64)
    assert mask.shape == (5, HR_CHANNELS[0], 64, 64)
    assert ((mask >= 0) & (mask <= 1)).all()
    assert mismatch.shape == (5, 1, 64, 64) and bool((mismatch >= 0).all())


def test_reference_detail_is_what_the_lr_cannot_see() -> None:
    flat = torch.full((2, 3, 64, 64), 0.3)
    assert reference_detail(flat).abs().max() < 1e-6  # a constant patch has no detail
    sharp = torch.rand(2, 3, 64, 64)
    smooth = F.interpolate(torch.rand(2, 3, 4, 4), scale_factor=16, mode="bicubic", align_corners=False).clamp(0, 1)
    assert reference_detail(smooth).abs().mean() < 0.1 * reference_detail(sharp).abs().mean()


@torch.no_grad()
@pytest.mark.parametrize("gate_bias, share", [(0.0, 0.5), (30.0, 1.0), (-30.0, 0.0)])
def test_ssnet_adds_the_reference_detail_under_its_gate(gate_bias: float, share: float) -> None:
    net = SSNet().eval()  # to_rgb starts at zero: the output is bicubic + gate * detail
    net.to_gate.bias.fill_(gate_bias)
    ref, bicubic = torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64)
    sr, _, _ = net(torch.rand(4, 64, 8, 8), ref, bicubic)
    assert torch.allclose(sr, bicubic + share * reference_detail(ref), atol=1e-6)


def test_shift_pixels_moves_by_whole_pixels_exactly() -> None:
    image = torch.rand(2, 3, 16, 20)
    offset = torch.zeros(2, 2, 16, 20)
    assert torch.allclose(shift_pixels(image, offset), image, atol=1e-6)
    offset[:, 0], offset[:, 1] = 2, -1  # each pixel takes the one 2 rows down and 1 column left
    assert torch.allclose(shift_pixels(image, offset)[..., :-2, 1:], image[..., 2:, :-1], atol=1e-6)


@torch.no_grad()
def test_without_alignment_zeroes_the_offset_of_a_copy() -> None:
    net = SSNet()
    net.to_offset.bias.fill_(1.0)
    plain = net.without_alignment()
    assert not plain.to_offset.bias.any() and not plain.to_offset.weight.any()
    assert bool((net.to_offset.bias == 1.0).all())  # the original keeps its alignment


def test_without_alignment_check_turns_off_only_the_check_of_a_copy() -> None:
    net = SSNet()
    unchecked = net.without_alignment_check()
    assert net.check_alignment and not unchecked.check_alignment
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), unchecked.state_dict().values()))


def _shifted_right(ref: torch.Tensor, px: float) -> torch.Tensor:
    return shift_pixels(ref, torch.tensor([0.0, px]).view(1, 2, 1, 1).expand(len(ref), 2, *ref.shape[-2:]))


@torch.no_grad()
def test_ssnet_takes_the_detail_where_its_offset_points() -> None:
    net = SSNet().without_alignment_check().eval()
    net.to_gate.bias.fill_(30.0)  # gate fully open
    net.to_offset.bias.copy_(torch.tensor([0.0, 1e9]))  # tanh saturates: MAX_OFFSET px to the right
    ref, bicubic = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    sr, _, _ = net(torch.rand(2, 64, 8, 8), ref, bicubic)
    assert torch.allclose(sr, bicubic + reference_detail(_shifted_right(ref, MAX_OFFSET)), atol=1e-5)


@pytest.fixture(scope="module")
def real_patches(data_root) -> torch.Tensor:
    """Four 64x64 crops of a real photograph (Set5 butterfly), float (4, 3, 64, 64)."""
    image = to_tensor(read_image(data_root / "sr_benchmarks" / "Set5" / "butterfly.png"))
    return torch.cat([image[..., y : y + 64, x : x + 64] for y in (40, 120) for x in (40, 120)])


@torch.no_grad()
@pytest.mark.parametrize("true_shift, kept", [(MAX_OFFSET, True), (-MAX_OFFSET, False)])
def test_ssnet_keeps_its_alignment_only_where_the_input_agrees(real_patches, true_shift: float, kept: bool) -> None:
    net = SSNet().eval()
    net.to_gate.bias.fill_(30.0)
    net.to_offset.bias.copy_(torch.tensor([0.0, 1e9]))  # the net aligns MAX_OFFSET px to the right
    ref = real_patches
    shifted = _shifted_right(ref, MAX_OFFSET)
    bicubic = reference_lowpass(_shifted_right(ref, true_shift))  # what the input sees of the true content
    sr, _, mismatch = net(torch.rand(4, 64, 8, 8), ref, bicubic)
    used = shifted if kept else ref
    assert torch.allclose(sr, bicubic + reference_detail(used), atol=1e-5)
    assert torch.allclose(mismatch, lowpass_mismatch(reference_lowpass(used), bicubic))
    unchecked = net.without_alignment_check()(torch.rand(4, 64, 8, 8), ref, bicubic)[0]
    assert torch.allclose(unchecked, bicubic + reference_detail(shifted), atol=1e-5)


def test_lowpass_mismatch_ignores_a_brightness_offset(real_patches) -> None:
    low = reference_lowpass(real_patches)
    other = reference_lowpass(_shifted_right(real_patches, MAX_OFFSET))
    assert lowpass_mismatch(low, low + 0.1).abs().max() < 1e-10
    assert bool((lowpass_mismatch(other, low + 0.1).mean((1, 2, 3)) > 1e-5).all())


@torch.no_grad()
def test_sp_and_nearest_upsampling_double_the_size() -> None:
    net = SSNet().eval()
    for scale in net.scales[1:]:  # every scale after the first upsamples its input x2
        c = scale.sp[0].in_channels
        x = torch.rand(2, c, 8, 8)
        assert scale.sp(x).shape == (2, c, 16, 16)  # SP: learned sub-pixel x2
        up = F.interpolate(x, scale_factor=2, mode="nearest")  # the module's nearest upsampling
        assert up.shape == (2, c, 16, 16)
        assert torch.equal(up[..., ::2, ::2], x) and torch.equal(up[..., 1::2, 1::2], x)
    # the scales chained: 8 -> 16 -> 32 -> 64 px
    feats = net.encoder(torch.rand(1, 3, 64, 64))
    x, logits = torch.rand(1, 64, 8, 8), None
    for scale, hr in zip(net.scales, reversed(feats)):
        x, logits, mask = scale(x, hr, logits)
        assert x.shape[-1] == logits.shape[-1] == mask.shape[-1] == hr.shape[-1]
    assert x.shape[-1] == 64
