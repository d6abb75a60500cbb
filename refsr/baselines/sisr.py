"""Single-image baselines: SRResNet on the whole image, and SRResNet+NN on sliding 24x24 windows."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from refsr.archs.srresnet import SRResNet

WINDOW = 24  # LR window side of the sliding variant (method.md)
WINDOW_STRIDE = 2


@torch.no_grad()
def sliding_super_resolve(net: SRResNet, lr: torch.Tensor, batch: int = 64, progress: bool = False) -> torch.Tensor:
    """Run `net` on every 24x24 LR window at stride 2 and average the overlapping x8 outputs."""
    h, w = lr.shape[-2:]
    s = net.scale
    win = min(WINDOW, h, w)
    hp = h + (h - win) % WINDOW_STRIDE
    wp = w + (w - win) % WINDOW_STRIDE
    lr = F.pad(lr, (0, wp - w, 0, hp - h), mode="replicate")
    windows = F.unfold(lr, win, stride=WINDOW_STRIDE)  # (1, 3*win*win, L)
    n = windows.shape[-1]
    windows = windows[0].T.reshape(n, 3, win, win)
    outputs = [net(windows[i : i + batch]) for i in tqdm(range(0, n, batch), disable=not progress, leave=False)]
    cols = torch.cat(outputs).reshape(n, -1).T[None]
    size = (hp * s, wp * s)
    total = F.fold(cols, size, win * s, stride=WINDOW_STRIDE * s)
    count = F.fold(torch.ones_like(cols[:, : (win * s) ** 2]), size, win * s, stride=WINDOW_STRIDE * s)
    return (total / count)[..., : h * s, : w * s]
