"""Atomic file writes: write to a temporary file in the same folder, then os.replace.

The result has the permissions an ordinary write would give: a replaced file keeps its mode, a
new one gets the process umask's (the temporary file itself is private while it is written).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from refsr.errors import InputError


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable(path: str | Path) -> None:
    """Raise InputError unless `path` can be written (a file, not a folder, in a writable or creatable folder).

    For the CLI to say so before a long computation rather than after it.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(target, "is a folder; give a file name")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(target, f"cannot create it: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(target, f"cannot write into {folder} (permission denied)")
    if target.exists() and not os.access(target, os.W_OK):
        raise InputError(target, "cannot replace it (permission denied)")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success move it onto `path`, else delete it.

    The temporary file keeps the suffix of `path`, so format sniffing by extension still works.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, target.stat().st_mode & 0o7777 if target.is_file() else _new_file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
