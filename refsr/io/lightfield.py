"""Light fields as a (U, V) grid of views: HCI folders, <u>_<v>.png folders, HDF5, stereo pairs."""
from __future__ import annotations

import configparser
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
from tqdm.auto import tqdm

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

HCI_GRID = (9, 9)
"""Camera grid (rows, columns) of the HCI 4D Light Field Benchmark, used when parameters.cfg is absent."""
HCI_PARAMETERS = "parameters.cfg"

_HCI_NAME = re.compile(r"input_Cam(\d+)\.png")
_UV_NAME = re.compile(r"(\d+)_(\d+)\.png")
HDF5_SUFFIXES = (".h5", ".hdf5")

log = logging.getLogger(__name__)


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


def _assemble(files: dict[tuple[int, int], Path], grid: tuple[int, int],
              progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read the view files into a (U, V, H, W, 3) array; all views must share one size.

    Args:
        files: the file of each grid position (u, v) that has one.
        grid: (U, V).
        progress: show a progress bar of the views read on stderr.

    Returns:
        (views uint8 (U, V, H, W, 3), zeros where no file; present bool (U, V)).
    """
    views = present = None
    first: Path | None = None
    for (u, v), path in tqdm(sorted(files.items()), desc="views", unit="view", disable=not progress, leave=False):
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


def _by_position(folder: Path, found: list[tuple[tuple[int, int], Path]]) -> dict[tuple[int, int], Path]:
    """{(u, v): file}, refusing two files for one grid position (e.g. 0_1.png and 00_01.png)."""
    files: dict[tuple[int, int], Path] = {}
    for position, path in found:
        if position in files:
            raise InputError(folder, f"{files[position].name} and {path.name} are both view {position}")
        files[position] = path
    return files


def missing_views_line(lf: LightField, where: str | Path | None = None,
                       label: Callable[[int, int], str] | None = None) -> str | None:
    """One line naming the grid positions of `lf` without a view, or None when every view is there.

    Args:
        lf: the light field.
        where: what the line starts with (default `lf.source`).
        label: how to name position (u, v) (default "(u, v)"); the centre view (U // 2, V // 2) is marked.

    Returns:
        e.g. "<where>: 2 of 81 views of the 9x9 grid missing, kept as not present:
        input_Cam040.png (4, 4) = centre view; input_Cam080.png (8, 8)" (on one line).
    """
    missing = lf.missing
    if not missing:
        return None
    rows, cols = lf.grid
    centre = (rows // 2, cols // 2)
    names = [" ".join(filter(None, (label(u, v) if label else "", f"({u}, {v})",
                                    "= centre view" if (u, v) == centre else "")))
             for u, v in missing]
    return (f"{where or lf.source}: {len(missing)} of {rows * cols} views of the {rows}x{cols} grid missing, "
            f"kept as not present: {'; '.join(names)}")


def _report_missing(lf: LightField, where: str | Path | None = None,
                    label: Callable[[int, int], str] | None = None) -> LightField:
    """Log `missing_views_line` as a warning (one line on stderr where logging is not configured); `lf`."""
    line = missing_views_line(lf, where, label)
    if line:
        log.warning("%s", line)
    return lf


def hci_grid(folder: str | Path) -> tuple[int, int]:
    """The camera grid (rows, columns) of an HCI scene: parameters.cfg [extrinsics], else HCI_GRID.

    Raises:
        InputError: naming parameters.cfg when it is there but does not give num_cams_y and num_cams_x >= 1.
    """
    path = Path(folder) / HCI_PARAMETERS
    if not path.is_file():
        return HCI_GRID
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
        grid = (parser.getint("extrinsics", "num_cams_y"), parser.getint("extrinsics", "num_cams_x"))
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error) as err:
        problem = " ".join(str(err).split())
        raise InputError(path, f"cannot read num_cams_y and num_cams_x of [extrinsics] ({problem})") from None
    if min(grid) < 1:
        raise InputError(path, f"num_cams_y x num_cams_x is {grid[0]}x{grid[1]}; expected at least 1x1")
    return grid


def _hci_files(folder: Path, found: list[tuple[re.Match, Path]],
               grid: tuple[int, int]) -> dict[tuple[int, int], Path]:
    """{(u, v): file} with u, v = divmod(NNN, columns); a camera number beyond the grid is an error."""
    rows, cols = grid
    said = f"by {HCI_PARAMETERS}" if (folder / HCI_PARAMETERS).is_file() else f"of HCI scenes without {HCI_PARAMETERS}"
    for m, path in found:
        if int(m.group(1)) >= rows * cols:
            raise InputError(path, f"camera {int(m.group(1))} is beyond the {rows}x{cols} grid {said} "
                                   f"(cameras 0..{rows * cols - 1})")
    return _by_position(folder, [(divmod(int(m.group(1)), cols), path) for m, path in found])


def read_hci(folder: str | Path, progress: bool = False) -> LightField:
    """Read an HCI 4D benchmark scene: input_CamNNN.png views and the centre view's gt_disp_lowres.pfm.

    The grid is `hci_grid` (9x9 unless parameters.cfg says otherwise) and camera NNN is view
    (NNN // columns, NNN % columns), whichever files are there: a missing view never moves another. Missing
    views are zeros with `present` False, and a warning names them.

    Args:
        folder: the scene folder.
        progress: show a progress bar of the views read on stderr.

    Raises:
        InputError: naming the folder or file: no views, a camera number beyond the grid, two files for one
            camera, an unreadable view or parameters.cfg, views or disparity of different sizes.
    """
    folder = Path(folder)
    found = _matching(folder, _HCI_NAME)
    if not found:
        raise InputError(folder, "no input_CamNNN.png views found")
    grid = hci_grid(folder)
    views, present = _assemble(_hci_files(folder, found, grid), grid, progress)
    disparity = _optional_disparity(folder / "gt_disp_lowres.pfm", views.shape[2:])
    centre = (grid[0] // 2, grid[1] // 2)
    lf = LightField(views, present, disparity, centre if disparity is not None else None, str(folder), "hci")
    return _report_missing(lf, folder, lambda u, v: f"input_Cam{u * grid[1] + v:03d}.png")


def read_uv_folder(folder: str | Path, progress: bool = False) -> LightField:
    """Read views named <u>_<v>.png and an optional centre-view disparity.pfm.

    The grid is (largest u + 1, largest v + 1), each view at the position its name gives; positions without a
    file are zeros with `present` False, and a warning names them. Missing last rows or columns cannot be told
    from a smaller grid.

    Args:
        folder: the folder of views.
        progress: show a progress bar of the views read on stderr.

    Raises:
        InputError: naming the folder or file: no views, two files for one position, an unreadable view,
            views or disparity of different sizes.
    """
    folder = Path(folder)
    found = _matching(folder, _UV_NAME)
    if not found:
        raise InputError(folder, "no <u>_<v>.png views found")
    files = _by_position(folder, [((int(m.group(1)), int(m.group(2))), p) for m, p in found])
    grid = (max(u for u, _ in files) + 1, max(v for _, v in files) + 1)
    views, present = _assemble(files, grid, progress)
    disparity = _optional_disparity(folder / "disparity.pfm", views.shape[2:])
    lf = LightField(views, present, disparity, (grid[0] // 2, grid[1] // 2) if disparity is not None else None,
                    str(folder), "uv-folder")
    return _report_missing(lf, folder, lambda u, v: f"{u}_{v}.png")


def _find_views_dataset(f: h5py.File) -> str | None:
    if "views" in f and isinstance(f["views"], h5py.Dataset):
        return "views"
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name)
                 if isinstance(obj, h5py.Dataset) and obj.ndim == 5 and obj.dtype == np.uint8 else None)
    return names[0] if names else None


def _views_dataset(path: Path, f: h5py.File, dataset: str | None) -> h5py.Dataset:
    """The uint8 (U, V, H, W, 3) views dataset: `dataset`, else "views", else the first 5-D uint8 one."""
    name = dataset or _find_views_dataset(f)
    if name is None:
        raise InputError(path, "no 5-D uint8 (U, V, H, W, 3) views dataset found")
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise InputError(path, f"no dataset {name!r}")
    ds = f[name]
    if ds.ndim != 5 or ds.shape[4] != 3 or ds.dtype != np.uint8:
        raise InputError(path, f"dataset {name!r} is {ds.dtype} {ds.shape}; expected uint8 (U, V, H, W, 3)")
    require_min_size(path, ds.shape[2:4])
    return ds


def _read_views(ds: h5py.Dataset, progress: bool) -> np.ndarray:
    """The whole dataset, read one view (one chunk as write_hdf5 lays it out) at a time."""
    views = np.empty(ds.shape, np.uint8)
    positions = list(np.ndindex(*ds.shape[:2]))
    for u, v in tqdm(positions, desc="views", unit="view", disable=not progress, leave=False):
        views[u, v] = ds[u, v]
    return views


def _present(path: Path, f: h5py.File, views: np.ndarray) -> np.ndarray:
    """The "present" mask (all True without one); a view it calls missing must be all zeros."""
    if "present" not in f:
        return np.ones(views.shape[:2], bool)
    present = np.asarray(f["present"][()], bool)
    if present.shape != views.shape[:2]:
        raise InputError(path, f"'present' has shape {present.shape}, expected {views.shape[:2]}")
    if not present.any():
        raise InputError(path, "'present' marks every view missing")
    holding = [(int(u), int(v)) for u, v in zip(*np.nonzero(~present)) if views[u, v].any()]
    if holding:
        raise InputError(path, f"'present' marks views {', '.join(map(str, holding))} missing but they hold pixels")
    return present


def _disparity_view(path: Path, attrs: dict, grid: tuple[int, int]) -> tuple[int, int]:
    """attrs["disparity_view"] (default the centre view), which must lie inside the grid."""
    dv = attrs.get("disparity_view")
    view = (int(dv[0]), int(dv[1])) if dv is not None else (grid[0] // 2, grid[1] // 2)
    if not (0 <= view[0] < grid[0] and 0 <= view[1] < grid[1]):
        raise InputError(path, f"disparity_view {view} is outside the {grid[0]}x{grid[1]} grid")
    return view


def read_hdf5(path: str | Path, dataset: str | None = None, progress: bool = False) -> LightField:
    """Read a light field from HDF5, as write_hdf5 writes it.

    Args:
        path: the .h5/.hdf5 file.
        dataset: the uint8 (U, V, H, W, 3) views (default "views", else the first 5-D uint8 dataset).
        progress: show a progress bar of the views read on stderr.

    Optional datasets "present" (bool (U, V); views it marks missing must be zeros, and a warning names them)
    and "disparity" (float (H, W)); attrs source, disparity_view (default the centre view).

    Raises:
        InputError: naming the file: unreadable, no views dataset, or "present" / "disparity" /
            disparity_view that do not fit the views.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with h5py.File(path, "r") as f:
            views = _read_views(_views_dataset(path, f, dataset), progress)
            present = _present(path, f, views)
            disparity = None
            if "disparity" in f:
                disparity = np.asarray(f["disparity"][()], np.float32)
                if disparity.shape != views.shape[2:4]:
                    raise InputError(path, f"'disparity' has shape {disparity.shape}, expected {views.shape[2:4]}")
            attrs = dict(f.attrs)
    except OSError as err:
        raise InputError(path, f"not a readable HDF5 file ({err})") from None
    disparity_view = _disparity_view(path, attrs, views.shape[:2]) if disparity is not None else None
    source = attrs.get("source")
    lf = LightField(views, present, disparity, disparity_view, str(source) if source else str(path), "hdf5")
    return _report_missing(lf, path)


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


MOTORCYCLE_SCENE = "motorcycle"  # the scene name of the embedded sample in a store


def motorcycle_sample() -> LightField:
    """The demo stereo pair bundled with scikit-image (Middlebury 2014 Motorcycle, 741x500)."""
    from skimage import data

    try:
        left, right, disparity = data.stereo_motorcycle()
    except Exception as err:
        raise InputError("skimage.data.stereo_motorcycle", f"cannot load the sample ({err})") from None
    return stereo_pair(left, right, disparity, source="skimage.data.stereo_motorcycle")


def scene_name(path: str | Path) -> str:
    """The scene name of a light field read from `path` unless the user gives one: a file's stem, a folder's name."""
    path = Path(path)
    return path.stem if path.is_file() else path.resolve().name


def read_lightfield(path: str | Path, progress: bool = False) -> LightField:
    """Read a light field or stereo pair, choosing the reader from what `path` is.

    .h5/.hdf5 file -> HDF5; folder with input_CamNNN.png -> HCI; with <u>_<v>.png -> uv-folder;
    with im2.png and im6.png -> Middlebury stereo.

    Args:
        path: the file or folder.
        progress: show a progress bar of the views read on stderr (light fields; a stereo pair is two files).

    Raises:
        InputError: naming the file or folder when it is none of these, or its reader refuses it.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in HDF5_SUFFIXES:
            return read_hdf5(path, progress=progress)
        raise InputError(path, "expected an .h5/.hdf5 file or a folder of views")
    if not path.is_dir():
        raise InputError(path, "not found")
    names = [p.name for p in path.iterdir()]
    if any(_HCI_NAME.fullmatch(n) for n in names):
        return read_hci(path, progress)
    if any(_UV_NAME.fullmatch(n) for n in names):
        return read_uv_folder(path, progress)
    if "im2.png" in names and "im6.png" in names:
        return read_middlebury(path)
    raise InputError(path, "no light field found: expected input_CamNNN.png (HCI), <u>_<v>.png views, "
                           "im2.png + im6.png (Middlebury stereo) or an .h5/.hdf5 file")
