"""refsr.ensemble: the flip ensemble is the mean of a run and its mirrored run, on any reference width."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from refsr.degrade import upsample
from refsr.ensemble import flip_ensemble, mirrored_reference


def _bicubic(lr: torch.Tensor, ref: torch.Tensor):
    return upsample(lr, 8, "bicubic"), None


def _copy_reference(lr: torch.Tensor, ref: torch.Tensor):
    """The reference at the output's pixels, its last column repeated where it is narrower."""
    h, w = lr.shape[-2] * 8, lr.shape[-1] * 8
    return mirrored_reference(ref[..., :h, :], w).flip(-1), torch.arange(w, dtype=torch.float32).expand(h, w)


def test_a_mirror_symmetric_method_is_unchanged() -> None:
    lr = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    sr, confidence = flip_ensemble(_bicubic, lr, torch.rand(1, 3, 40, 56))
    torch.testing.assert_close(sr, _bicubic(lr, None)[0])
    assert confidence is None


@pytest.mark.parametrize("ref_width", [56, 61, 47])  # as wide as the output, wider, narrower
def test_the_mirrored_reference_keeps_every_correspondence(ref_width: int) -> None:
    lr = torch.rand(1, 3, 5, 7)
    ref = torch.rand(1, 3, 40, ref_width, generator=torch.Generator().manual_seed(1))
    sr, _ = flip_ensemble(_copy_reference, lr, ref)
    torch.testing.assert_close(sr, _copy_reference(lr, ref)[0])


def test_the_result_is_the_mean_of_the_two_runs() -> None:
    _, confidence = flip_ensemble(_copy_reference, torch.rand(1, 3, 5, 7), torch.rand(1, 3, 40, 56))
    torch.testing.assert_close(confidence, torch.full((40, 56), 27.5))  # column x and 55 - x


def test_mirrored_reference_shape_and_content() -> None:
    ref = torch.arange(10.0).reshape(1, 1, 1, 10)
    assert mirrored_reference(ref, 6).flatten().tolist() == [5, 4, 3, 2, 1, 0]
    assert mirrored_reference(ref, 12).flatten().tolist() == [9, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        flip_ensemble(_bicubic, torch.rand(3, 5, 7), torch.rand(1, 3, 40, 56))


def test_padding_is_by_the_edge_column() -> None:
    ref = torch.rand(1, 3, 4, 5)
    torch.testing.assert_close(mirrored_reference(ref, 7).flip(-1), F.pad(ref, (0, 2, 0, 0), mode="replicate"))
