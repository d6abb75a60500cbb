"""Ground-truth correspondences (docs/method.md "Ground-truth correspondence"): pure functions on arrays.

Every function returns (centers, truth), each (N, 2) int64 (y, x) on the HR grid: `centers` are
pixels of the INPUT image (what `refsr.matching.match` takes as centres), `truth` the correct
matching pixels of the REFERENCE. Rounding is half-up (floor(x + 0.5)).
"""
from __future__ import annotations

import numpy as np

from refsr.degrade import SCALE


def grid_centers(height: int, width: int, stride: int = SCALE) -> np.ndarray:
    """The stride grid y = stride*m + stride//2, x = stride*n + stride//2 inside the image, (N, 2) int64.

    The default centres of every matcher (`refsr.matching.match`) and of the ground truth here.
    """
    ys = np.arange(stride // 2, height, stride)
    xs = np.arange(stride // 2, width, stride)
    return np.stack(np.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2).astype(np.int64)


def _round(a: np.ndarray) -> np.ndarray:
    return np.floor(a + 0.5).astype(np.int64)


def _inside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    return (points[:, 0] >= 0) & (points[:, 0] < h) & (points[:, 1] >= 0) & (points[:, 1] < w)


def _bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample a 2-D map at float (y, x) points (inside the image) bilinearly; NaN propagates."""
    h, w = image.shape
    y = np.clip(points[:, 0], 0, h - 1)
    x = np.clip(points[:, 1], 0, w - 1)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2) if h > 1 else np.zeros_like(y, np.int64)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2) if w > 1 else np.zeros_like(x, np.int64)
    fy, fx = y - y0, x - x0
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def sintel_correspondence(
    flow: np.ndarray, occluded: np.ndarray | None = None, invalid: np.ndarray | None = None,
    stride: int = SCALE, input_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward flow of frame t (H, W, 2), u = dx first -> (centers q in frame t+1, truth p in frame t).

    p runs over the stride grid of frame t; q = round(p + (v, u)). p is dropped where `occluded`
    or `invalid` (bool, True = bad) marks it, where the flow is not finite, or where q leaves the
    input image, of `input_shape` (default the flow's; pass the x8-cropped size of frame t+1).
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    h, w = flow.shape[:2]
    p = grid_centers(h, w, stride)
    motion = flow[p[:, 0], p[:, 1]][:, ::-1]  # (v, u) = (dy, dx)
    keep = np.isfinite(motion).all(1)
    for mask in (occluded, invalid):
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (h, w):
                raise ValueError(f"mask of shape {mask.shape} does not match the flow's {(h, w)}")
            keep &= ~mask[p[:, 0], p[:, 1]]
    q = _round(np.where(np.isfinite(motion), p + motion, 0.0))
    keep &= _inside(q, input_shape or (h, w))
    return q[keep], p[keep]


def disparity_correspondence(
    disparity: np.ndarray, view: tuple[int, int], centre: tuple[int, int], sign: float,
    stride: int = SCALE, fb_tol: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre-view disparity (H, W) -> (centers p in the centre view, truth in view (u, v)).

    Centre pixel p with disparity d lies at t = p + sign * d * (u - c_u, v - c_v) in view (u, v).
    Dropped: non-finite d, t outside the image, and forward-backward failures. Our reading of the
    check (only the centre has a disparity map): sample the centre disparity bilinearly at t, map t
    back with it, and keep p only if that lands within fb_tol px of p, i.e. the disparity is
    consistent along the displacement (drops occlusion-prone points at depth edges).
    """
    disparity = np.asarray(disparity, dtype=np.float64)
    h, w = disparity.shape
    step = np.array([view[0] - centre[0], view[1] - centre[1]], dtype=np.float64)
    p = grid_centers(h, w, stride)
    d = disparity[p[:, 0], p[:, 1]]
    keep = np.isfinite(d)
    target = p + sign * np.where(keep, d, 0.0)[:, None] * step
    t = _round(target)
    keep &= _inside(t, (h, w))
    back_d = _bilinear(disparity, target)
    back = target - sign * back_d[:, None] * step
    err = np.linalg.norm(back - p, axis=1)
    keep &= np.isfinite(err) & (err <= fb_tol)
    return p[keep], t[keep]


def views_correspondence(
    disparity: np.ndarray, centre: tuple[int, int], view_in: tuple[int, int], view_ref: tuple[int, int],
    sign: float, stride: int = SCALE,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre-view disparity -> (pixels in view_in, pixels in view_ref) of the centre's stride grid points.

    For training pairs between two non-centre views; no forward-backward check (label noise at
    depth edges is tolerated there).
    """
    disparity = np.asarray(disparity, dtype=np.float64)
    h, w = disparity.shape
    p = grid_centers(h, w, stride)
    d = disparity[p[:, 0], p[:, 1]]
    keep = np.isfinite(d)
    d = np.where(keep, d, 0.0)[:, None]
    q_in = _round(p + sign * d * np.subtract(view_in, centre))
    q_ref = _round(p + sign * d * np.subtract(view_ref, centre))
    keep &= _inside(q_in, (h, w)) & _inside(q_ref, (h, w))
    return q_in[keep], q_ref[keep]


def stereo_correspondence(disparity_left: np.ndarray, stride: int = SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Left-view disparity (H, W) -> (centers p in the left view, truth (y, x - d) in the right view).

    Unknown disparity (NaN, inf, or <= 0, Middlebury's 0) is dropped, and so are targets outside.
    """
    disparity = np.asarray(disparity_left, dtype=np.float64)
    h, w = disparity.shape
    p = grid_centers(h, w, stride)
    d = disparity[p[:, 0], p[:, 1]]
    keep = np.isfinite(d) & (d > 0)
    t = np.stack([p[:, 0], _round(p[:, 1] - np.where(keep, d, 0.0))], 1)
    keep &= _inside(t, (h, w))
    return p[keep], t[keep]


def correspondence_map(centers: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Points of the input and their reference pixels -> (H, W, 2) int64 map of the input, -1 where unknown.

    With stride-1 correspondences this is the ground-truth dense field that the oracle rows of the
    quality benchmark feed to synthesis in place of matching.
    """
    field = np.full((*shape, 2), -1, np.int64)
    inside = _inside(centers, shape)
    field[centers[inside, 0], centers[inside, 1]] = truth[inside]
    return field
