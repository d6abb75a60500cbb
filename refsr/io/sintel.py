"""MPI-Sintel training folders: frames per pass, forward flow, occlusion and invalid masks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refsr.errors import InputError
from refsr.io.flo import read_flo
from refsr.io.images import read_image, read_mask, require_min_size

IMAGE_PASSES = ("albedo", "clean", "final")
RENDER_PASSES = ("clean", "final")  # the passes refsr super-resolves (albedo has no lighting)
_FRAME = re.compile(r"frame_(\d+)\.(png|flo)")


@dataclass
class ClipInfo:
    """What one clip has on disk: frame numbers per pass, and frames k with flow k -> k+1 and masks."""

    name: str
    passes: dict[str, list[int]] = field(default_factory=dict)
    flow: list[int] = field(default_factory=list)
    occlusions: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)


@dataclass
class SintelClip:
    """Frames of one clip and pass, keyed by original Sintel frame numbers (gaps allowed)."""

    name: str
    pass_name: str
    numbers: list[int]
    frames: np.ndarray  # uint8 (T, H, W, 3), frames[i] is frame numbers[i]
    flow: dict[int, np.ndarray]  # k -> float32 (H, W, 2), forward flow k -> k+1
    occlusions: dict[int, np.ndarray]  # k -> bool (H, W), True = occluded in k+1
    invalid: dict[int, np.ndarray]  # k -> bool (H, W), True = flow invalid
    source: str


def _numbers(folder: Path, suffix: str) -> dict[int, Path]:
    """Frame number -> file for the frame_NNNN.<suffix> files of a folder (empty if absent)."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = _FRAME.fullmatch(path.name)
        if match and match.group(2) == suffix:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def _category_folders(root: Path) -> dict[str, Path]:
    return {name: root / name for name in (*IMAGE_PASSES, "flow", "occlusions", "invalid")
            if (root / name).is_dir()}


def list_clips(root: str | Path) -> dict[str, ClipInfo]:
    """List the clips of a Sintel `training/` folder, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "Sintel folder not found")
    folders = _category_folders(root)
    if not any(name in folders for name in (*IMAGE_PASSES, "flow")):
        raise InputError(root, "not a Sintel training folder: expected clean/, final/ or flow/ sub-folders")
    names = sorted({clip.name for folder in folders.values() for clip in folder.iterdir() if clip.is_dir()})
    clips = {}
    for name in names:
        info = ClipInfo(name)
        for pass_name in IMAGE_PASSES:
            frames = _numbers(root / pass_name / name, "png")
            if frames:
                info.passes[pass_name] = list(frames)
        info.flow = list(_numbers(root / "flow" / name, "flo"))
        info.occlusions = list(_numbers(root / "occlusions" / name, "png"))
        info.invalid = list(_numbers(root / "invalid" / name, "png"))
        clips[name] = info
    return clips


def clips_with_pass(clips: dict[str, ClipInfo], pass_name: str) -> list[str]:
    """The names of the clips (`list_clips`) that have the `pass_name` pass, in their order."""
    return [name for name, info in clips.items() if pass_name in info.passes]


def _check_size(path: Path, shape: tuple[int, ...], frame_shape: tuple[int, ...], what: str) -> None:
    if tuple(shape[:2]) != tuple(frame_shape[:2]):
        raise InputError(path, f"{what} is {shape[1]}x{shape[0]} but the frames are "
                               f"{frame_shape[1]}x{frame_shape[0]}")


def clip_scene_name(clip: str, first: int | None = None) -> str:
    """The store's scene name for a clip, or for its first `first` frames (`<clip>-first<N>`)."""
    return clip if first is None else f"{clip}-first{first}"


def read_clip(root: str | Path, clip: str, pass_name: str = "final",
              frames: list[int] | None = None, first: int | None = None) -> SintelClip:
    """Read one clip's frames of `pass_name` with its flow and masks.

    All frames, the frame numbers in `frames`, or the first `first` frames of the pass.
    Flow and masks are attached for every loaded frame number that has them; none is assumed.
    """
    root = Path(root)
    clips = list_clips(root)
    if clip not in clips:
        raise InputError(root / pass_name / clip, f"unknown clip {clip!r}; available: {', '.join(clips) or 'none'}")
    info = clips[clip]
    if pass_name not in info.passes:
        raise InputError(root / pass_name / clip, f"clip {clip!r} has no {pass_name!r} pass; "
                                                  f"available: {', '.join(info.passes) or 'none'}")
    numbers = info.passes[pass_name]
    if frames is not None:
        missing = sorted(set(frames) - set(numbers))
        if missing:
            raise InputError(root / pass_name / clip, f"frames {missing} not present; present: {numbers}")
        numbers = sorted(set(frames))
    if first is not None:
        if first < 1:
            raise InputError(root / pass_name / clip, f"first {first} frames: must be at least 1")
        numbers = numbers[:first]
    if not numbers:
        raise InputError(root / pass_name / clip, "no frames selected")

    images = []
    for k in numbers:
        path = root / pass_name / clip / f"frame_{k:04d}.png"
        image = read_image(path)
        if images:
            _check_size(path, image.shape, images[0].shape, "frame")
        else:
            require_min_size(path, image.shape)
        images.append(image)
    frame_shape = images[0].shape

    def load(kind: str, ks: list[int], reader, what: str) -> dict[int, np.ndarray]:
        out = {}
        for k in ks:
            if k in numbers:
                path = root / kind / clip / f"frame_{k:04d}.{'flo' if kind == 'flow' else 'png'}"
                array = reader(path)
                _check_size(path, array.shape, frame_shape, what)
                out[k] = array
        return out

    return SintelClip(
        name=clip,
        pass_name=pass_name,
        numbers=list(numbers),
        frames=np.stack(images),
        flow=load("flow", info.flow, read_flo, "flow"),
        occlusions=load("occlusions", info.occlusions, read_mask, "occlusion mask"),
        invalid=load("invalid", info.invalid, read_mask, "invalid mask"),
        source=str(root / pass_name / clip),
    )


def consecutive_pairs(clip: SintelClip) -> list[tuple[int, int]]:
    """Frame-number pairs (t, t+1) whose both frames are present in `clip`."""
    present = set(clip.numbers)
    return [(t, t + 1) for t in clip.numbers if t + 1 in present]
