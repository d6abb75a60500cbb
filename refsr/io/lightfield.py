"""Light fields as a (U, V) grid of views: HCI folders, <u>_<v>.png folders, HDF5, stereo pairs."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from refsr.errors import InputError
from refsr.io.atomic import atomic_path
from refsr.io.images import read_image, require_min_size
from refsr.io.pfm import read_pfm

HCI_DISPARITY_SIGN = -1
MIDDLEBURY2006_DISPARITY_SCALE = 3.0  # third size: disparity = value / 3 (docs/method.md "Middlebury stereo")
"""Sign s of HCI disparity d (flipud of the PFM, px per view step) relative to the centre view (c, c).

The pixel of view (u, v) showing centre pixel (y, x) is at (y + s*d*(u - c), x + s*d*(v - c)).
The same convention holds for stereo_pair: left pixel (y, x) is at (y, x - d) in the right view (v = 1).
"""

_HCI_NAME = re.compile(r"input_Cam(\d+)\.png")
_UV_NAME = re.compile(r"(\d+)_(\d+)\.png")
HDF5_SUFFIXES = (".h5", ".hdf5")


@dataclass
class LightField:
    """A grid of equally sized uint8 views; missing views are zeros with present[u, v] False."""

    views: np.ndarray  # uint8 (U, V, H, W, 3)
    present: np.ndarray  # bool (U, V)
    disparity: np.ndarray | None  # float32 (H, W), image orientation, NaN = unknown
    disparity_view: tuple[int, int] | None  # the view the disparity belongs to
    source: str
    reader: str  # "hci" | "uv-folder" | "hdf5" | "stereo"

    @property
    def grid(self) -> tuple[int, int]:
        """(U, V): the grid size."""
        return int(self.views.shape[0]), int(self.views.shape[1])

    @property
    def missing(self) -> list[tuple[int, int]]:
        """Grid positions (u, v) without a view."""
        return [(int(u), int(v)) for u, v in zip(*np.nonzero(~self.present))]


def _assemble(files: dict[tuple[int, int], Path], grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Read the view files into a (U, V, H, W, 3) array; all views must share one size."""
    views = present = None
    first: Path | None = None
    for (u, v), path in sorted(files.items()):
        image = read_image(path)
        if views is None:
            require_min_size(path, image.shape)
            views = np.zeros((*grid, *image.shape), np.uint8)
            present = np.zeros(grid, bool)
            first = path
        elif image.shape != views.shape[2:]:
            h, w = image.shape[:2]
            raise InputError(path, f"view is {w}x{h} but {first.name} is {views.shape[3]}x{views.shape[2]}; "
                                   "all views of a light field must have the same size")
        views[u, v] = image
        present[u, v] = True
    return views, present


def _optional_disparity(path: Path, view_shape: tuple[int, ...]) -> np.ndarray | None:
    if not path.is_file():
        return None
    disparity = read_pfm(path)
    if disparity.ndim != 2:
        raise InputError(path, f"expected a one-channel disparity map, got shape {disparity.shape}")
    if disparity.shape != tuple(view_shape[:2]):
        raise InputError(path, f"disparity is {disparity.shape[1]}x{disparity.shape[0]} but the views are "
                               f"{view_shape[1]}x{view_shape[0]}")
    return disparity


def _matching(folder: Path, pattern: re.Pattern) -> list[tuple[re.Match, Path]]:
    if not folder.is_dir():
        raise InputError(folder, "light-field folder not found")
    return [(m, p) for p in sorted(folder.iterdir()) if (m := pattern.fullmatch(p.name))]


def read_hci(folder: str | Path) -> LightField:
    """Read an HCI 4D benchmark scene: input_CamNNN.png (NNN = row*N + col) and gt_disp_lowres.pfm.

    N is ceil(sqrt(largest index + 1)); missing views are recorded in `present`.
    """
    folder = Path(folder)
    found = _matching(folder, _HCI_NAME)
    if not found:
        raise InputError(folder, "no input_CamNNN.png views found")
    n = math.isqrt(max(int(m.group(1)) for m, _ in found)) + 1  # == ceil(sqrt(max + 1))
    files = {divmod(int(m.group(1)), n): p for m, p in found}
    views, present = _assemble(files, (n, n))
    disparity = _optional_disparity(folder / "gt_disp_lowres.pfm", views.shape[2:])
    return LightField(views, present, disparity, (n // 2, n // 2) if disparity is not None else None,
                      str(folder), "hci")


def read_uv_folder(folder: str | Path) -> LightField:
    """Read views named <u>_<v>.png (grid = largest index + 1) and an optional centre-view disparity.pfm."""
    folder = Path(folder)
    found = _matching(folder, _UV_NAME)
    if not found:
        raise InputError(folder, "no <u>_<v>.png views found")
    files = {(int(m.group(1)), int(m.group(2))): p for m, p in found}
    grid = (max(u for u, _ in files) + 1, max(v for _, v in files) + 1)
    views, present = _assemble(files, grid)
    disparity = _optional_disparity(folder / "disparity.pfm", views.shape[2:])
    return LightField(views, present, disparity,
                      (grid[0] // 2, grid[1] // 2) if disparity is not None else None, str(folder), "uv-folder")


def _find_views_dataset(f: h5py.File) -> str | None:
    if "views" in f and isinstance(f["views"], h5py.Dataset):
        return "views"
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name)
                 if isinstance(obj, h5py.Dataset) and obj.ndim == 5 and obj.dtype == np.uint8 else None)
    return names[0] if names else None


def read_hdf5(path: str | Path, dataset: str | None = None) -> LightField:
    """Read a (U, V, H, W, 3) uint8 dataset (`dataset`, else "views", else the first 5-D uint8 one).

    Optional datasets "present" (bool (U, V)) and "disparity" (float (H, W)); attrs source, disparity_view.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with h5py.File(path, "r") as f:
            name = dataset or _find_views_dataset(f)
            if name is None:
                raise InputError(path, "no 5-D uint8 (U, V, H, W, 3) views dataset found")
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise InputError(path, f"no dataset {name!r}")
            ds = f[name]
            if ds.ndim != 5 or ds.shape[4] != 3 or ds.dtype != np.uint8:
                raise InputError(path, f"dataset {name!r} is {ds.dtype} {ds.shape}; expected uint8 (U, V, H, W, 3)")
            require_min_size(path, ds.shape[2:4])
            views = ds[()]
            present = np.ones(views.shape[:2], bool)
            if "present" in f:
                present = np.asarray(f["present"][()], bool)
                if present.shape != views.shape[:2]:
                    raise InputError(path, f"'present' has shape {present.shape}, expected {views.shape[:2]}")
            disparity = None
            if "disparity" in f:
                disparity = np.asarray(f["disparity"][()], np.float32)
                if disparity.shape != views.shape[2:4]:
                    raise InputError(path, f"'disparity' has shape {disparity.shape}, expected {views.shape[2:4]}")
            attrs = dict(f.attrs)
    except OSError as err:
        raise InputError(path, f"not a readable HDF5 file ({err})") from None
    disparity_view = None
    if disparity is not None:
        dv = attrs.get("disparity_view")
        disparity_view = (int(dv[0]), int(dv[1])) if dv is not None else (views.shape[0] // 2, views.shape[1] // 2)
    source = attrs.get("source")
    return LightField(views, present, disparity, disparity_view, str(source) if source else str(path), "hdf5")


def write_hdf5(path: str | Path, lf: LightField) -> None:
    """Write `lf` as HDF5 ("views" chunked one view per chunk, "present", "disparity"), atomically."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            h, w = lf.views.shape[2:4]
            f.create_dataset("views", data=lf.views, chunks=(1, 1, h, w, 3), compression="gzip",
                             compression_opts=1)
            f.create_dataset("present", data=np.asarray(lf.present, bool))
            if lf.disparity is not None:
                f.create_dataset("disparity", data=np.asarray(lf.disparity, np.float32))
            if lf.disparity_view is not None:
                f.attrs["disparity_view"] = np.asarray(lf.disparity_view, np.int64)
            f.attrs["source"] = lf.source
            f.attrs["reader"] = lf.reader


def stereo_pair(left: np.ndarray, right: np.ndarray, disparity: np.ndarray | None = None,
                source: str = "") -> LightField:
    """A 1x2 light field: view (0, 0) = left, (0, 1) = right, disparity of the left view.

    Left pixel (y, x) with disparity d is at (y, x - d) in the right view; non-finite d becomes NaN.
    """
    where = source or "<stereo pair>"
    for image, name in ((left, "left"), (right, "right")):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(where, f"{name} view must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if left.shape != right.shape:
        raise InputError(where, f"left view is {left.shape[1]}x{left.shape[0]} but right view is "
                                f"{right.shape[1]}x{right.shape[0]}")
    require_min_size(where, left.shape)
    if disparity is not None:
        disparity = np.array(disparity, np.float32)
        if disparity.shape != left.shape[:2]:
            raise InputError(where, f"disparity has shape {disparity.shape}, expected {left.shape[:2]}")
        disparity[~np.isfinite(disparity)] = np.nan
    return LightField(np.stack([left, right])[None], np.ones((1, 2), bool), disparity,
                      (0, 0) if disparity is not None else None, source, "stereo")


def read_middlebury(folder: str | Path, disparity_scale: float = 4.0) -> LightField:
    """Read a Middlebury 2003 pair: im2.png (left), im6.png (right), disp2.png / scale (0 = unknown)."""
    folder = Path(folder)
    left, right = read_image(folder / "im2.png"), read_image(folder / "im6.png")
    if left.shape != right.shape:
        raise InputError(folder / "im6.png", f"right view is {right.shape[1]}x{right.shape[0]} but im2.png is "
                                             f"{left.shape[1]}x{left.shape[0]}")
    disparity = None
    disp_path = folder / "disp2.png"
    if disp_path.is_file():
        disparity = read_middlebury_disparity(disp_path, disparity_scale)
        if disparity.shape != left.shape[:2]:
            raise InputError(disp_path, f"disparity is {disparity.shape[1]}x{disparity.shape[0]} but im2.png "
                                        f"is {left.shape[1]}x{left.shape[0]}")
    return stereo_pair(left, right, disparity, source=str(folder))


def read_middlebury_disparity(path: str | Path, disparity_scale: float) -> np.ndarray:
    """A Middlebury disparity PNG -> float32 pixels (value / scale), NaN where unknown (value 0)."""
    raw = read_image(path)[:, :, 0].astype(np.float32)
    return np.where(raw > 0, raw / disparity_scale, np.nan).astype(np.float32)


def read_middlebury2006(folder: str | Path) -> LightField:
    """Read a Middlebury 2006 third-size scene: view1.png (left), view5.png (right), disp1.png / 3."""
    folder = Path(folder)
    left, right = read_image(folder / "view1.png"), read_image(folder / "view5.png")
    if left.shape != right.shape:
        raise InputError(folder / "view5.png", f"right view is {right.shape[1]}x{right.shape[0]} but view1.png "
                                               f"is {left.shape[1]}x{left.shape[0]}")
    disp_path = folder / "disp1.png"
    disparity = read_middlebury_disparity(disp_path, MIDDLEBURY2006_DISPARITY_SCALE) if disp_path.is_file() else None
    return stereo_pair(left, right, disparity, source=str(folder))


def motorcycle_sample() -> LightField:
    """The demo stereo pair bundled with scikit-image (Middlebury 2014 Motorcycle, 741x500)."""
    from skimage import data

    try:
        left, right, disparity = data.stereo_motorcycle()
    except Exception as err:
        raise InputError("skimage.data.stereo_motorcycle", f"cannot load the sample ({err})") from None
    return stereo_pair(left, right, disparity, source="skimage.data.stereo_motorcycle")


def read_lightfield(path: str | Path) -> LightField:
    """Read a light field or stereo pair, choosing the reader from what `path` is.

    .h5/.hdf5 file -> HDF5; folder with input_CamNNN.png -> HCI; with <u>_<v>.png -> uv-folder;
    with im2.png and im6.png -> Middlebury stereo.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in HDF5_SUFFIXES:
            return read_hdf5(path)
        raise InputError(path, "expected an .h5/.hdf5 file or a folder of views")
    if not path.is_dir():
        raise InputError(path, "not found")
    names = [p.name for p in path.iterdir()]
    if any(_HCI_NAME.fullmatch(n) for n in names):
        return read_hci(path)
    if any(_UV_NAME.fullmatch(n) for n in names):
        return read_uv_folder(path)
    if "im2.png" in names and "im6.png" in names:
        return read_middlebury(path)
    raise InputError(path, "no light field found: expected input_CamNNN.png (HCI), <u>_<v>.png views, "
                           "im2.png + im6.png (Middlebury stereo) or an .h5/.hdf5 file")
