"""CC-Net's dense supervision (refsr.train.ccnet) on synthetic shifts: labels, loss, BatchNorm re-estimation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from refsr.archs.ccnet import CCNet
from refsr.train import ccnet as trainer
from refsr.train.ccnet import HALF, Prepared

CROP = 48


def _shifted(shift=(5, -9), size=(120, 150), seed=0) -> Prepared:
    """An input and a reference that is the input moved by `shift`; truth on a stride-4 grid, padded as `prepare` does."""
    gen = torch.Generator().manual_seed(seed)
    big = torch.rand(3, size[0] + 40, size[1] + 40, generator=gen)
    dy, dx = shift
    inp = big[:, 20 : 20 + size[0], 20 : 20 + size[1]]
    ref = big[:, 20 - dy : 20 - dy + size[0], 20 - dx : 20 - dx + size[1]]  # ref(y + dy, x + dx) = inp(y, x)
    ys, xs = np.mgrid[2 : size[0] : 4, 2 : size[1] : 4]
    centers = np.stack([ys.ravel(), xs.ravel()], 1)
    truth = centers + np.array(shift)
    keep = ((truth >= 0) & (truth < np.array(size))).all(1)
    pad = HALF + CROP
    return Prepared(torch.nn.functional.pad(inp, (pad,) * 4), torch.nn.functional.pad(ref, (pad,) * 4),
                    torch.as_tensor(centers[keep] + pad), torch.as_tensor(truth[keep] + pad))


def test_labels_point_at_the_same_content():
    p = _shifted()
    rng = np.random.default_rng(0)
    for _ in range(5):
        c = trainer.crop_pair(p, CROP, queries=10_000, rng=rng)
        assert c.target.shape == c.reference.shape == (3, CROP + 2 * HALF, CROP + 2 * HALF)
        assert ((c.queries >= HALF) & (c.queries < HALF + CROP)).all()
        ly, lx = c.labels // CROP + HALF, c.labels % CROP + HALF
        a = c.target[:, c.queries[:, 0], c.queries[:, 1]]
        b = c.reference[:, ly, lx]
        inside = (a.abs().sum(0) > 0) & (b.abs().sum(0) > 0)  # beyond the image both are padding
        assert inside.sum() > 20 and torch.equal(a[:, inside], b[:, inside])


def test_query_subsampling_keeps_at_most_the_asked_number():
    c = trainer.crop_pair(_shifted(), CROP, queries=7, rng=np.random.default_rng(1))
    assert len(c.queries) == len(c.labels) == 7


def test_identical_features_at_the_truth_give_no_error():
    """Any network matches a pure shift exactly where both crops see the same context (no coordinate slip)."""
    torch.manual_seed(0)
    net = CCNet().eval()
    p = _shifted(shift=(8, -12), size=(200, 220))
    # points whose 65 px context stays inside the image in both views
    keep = ((p.centers >= HALF + CROP + HALF + 12) & (p.centers < torch.tensor([200, 220]) + CROP - 12)).all(1)
    p = Prepared(p.target, p.reference, p.centers[keep], p.truth[keep])
    crops = trainer.draw_crops([p], 2, CROP, 10_000, np.random.default_rng(2))
    with torch.no_grad():
        loss, hits = trainer.dense_loss(net, crops, temperature=0.07)
    assert hits["top1"].float().mean() > 0.95, hits["top1"].float().mean()
    assert torch.isfinite(loss)


def test_dense_loss_falls_when_trained_on_a_shift():
    torch.manual_seed(0)
    net = CCNet().train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    crops = trainer.draw_crops([_shifted()], 1, CROP, 256, np.random.default_rng(3))
    losses = []
    for _ in range(6):
        loss, _ = trainer.dense_loss(net, crops, temperature=0.07)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < losses[0]


def test_batchnorm_recalibration_matches_the_batch_statistics():
    torch.manual_seed(0)
    net = CCNet()
    crops = trainer.draw_crops([_shifted()], 2, CROP, 64, np.random.default_rng(4))
    trainer.recalibrate_batchnorm(net, [crops], amp=False)
    net.train()
    with torch.no_grad():
        train_mode = trainer.features(net, crops)
        net.eval()
        eval_mode = trainer.features(net, crops)
    assert (eval_mode - train_mode).abs().max() < 0.05
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_temperature_option_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        trainer.main(["--temperature", "0"])
    assert "--temperature: must be positive" in capsys.readouterr().err
