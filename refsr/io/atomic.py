"""All-or-nothing writes on a shared disk: atomic files, staged folders, locks, deferred interrupts.

- `atomic_path`: write a temporary file in the same folder, then os.replace. The result has the
  permissions an ordinary write would give: a replaced file keeps its mode, a new one gets the
  process umask's (the temporary file itself is private while it is written).
- `staged_folder` + `exchange` / os.rename: build a folder under a hidden name, then put it in
  place in one rename. Each staging folder is `flock`ed by its writer, so a leftover of a killed
  writer is told apart from one being written (`staging_is_live`, `remove_if_stale`).
- `file_lock`: an inter-process lock (flock on a file); the kernel drops it when the holder dies.
- `deferred_interrupts` + `checkpoint`: SIGINT/SIGTERM stop a write between steps, never mid-way.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
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


# ---------------------------------------------------------------- interrupts

class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while a write was in progress; `signum` says which."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_pending: list[int] = []  # signals received while deferred, in order
_depth = [0]  # nesting of `deferred_interrupts` blocks in the main thread


def checkpoint() -> None:
    """Raise `Interrupted` if SIGINT or SIGTERM arrived inside `deferred_interrupts` (else do nothing)."""
    if _pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)


def _record(signum: int, frame: object) -> None:
    _pending.append(signum)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the next `checkpoint()` or the end of the block.

    A write calls `checkpoint()` between complete steps, so it stops at a step boundary, with no
    I/O in flight. A signal still pending when the outermost block ends is raised again under the
    handlers that were there before. A no-op outside the main thread, where Python cannot handle
    signals.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or _depth[0]:  # another thread, or nested: the outermost block handles signals
        _depth[0] += main
        try:
            yield
        finally:
            _depth[0] -= main
        return
    before = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _record)
    _depth[0] = 1
    try:
        yield
    finally:
        _depth[0] = 0
        for s, handler in before.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        if _pending:
            signum = _pending[0]
            _pending.clear()
            signal.raise_signal(signum)


# ---------------------------------------------------------------- locks

POLL_S = 0.05  # how often a waiting lock is retried (signals get through between tries)


def try_lock(fd: int) -> bool:
    """Take an exclusive `flock` on open file or folder `fd` without waiting; False if another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock on file or folder `path` (a missing file is created) for the block.

    `flock` on something that is never deleted: the kernel releases it when the holder exits, even
    on kill -9. Waiting polls, so SIGINT and SIGTERM stop a waiting process.
    """
    flags = os.O_RDONLY if os.path.isdir(path) else os.O_RDWR | os.O_CREAT
    fd = os.open(path, flags | os.O_CLOEXEC, 0o666)
    try:
        while not try_lock(fd):
            checkpoint()
            time.sleep(POLL_S)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------- staged folders

STAGING = ".tmp-"  # staging folders are named <prefix>.tmp-<name>-<hex> (scenes, runs) or .<store>.tmp-<hex>
SET_ASIDE = ".old-"  # a replaced folder moved aside for a moment: .old-<name>-<hex>


def is_staging(name: str) -> bool:
    """Whether a folder name is a staging or set-aside name (hidden, `.tmp-` or `.old-`)."""
    return name.startswith((STAGING, SET_ASIDE)) or (name.startswith(".") and STAGING in name)


@contextmanager
def _folder_lock_if_free(path: str | Path) -> Iterator[bool | None]:
    """Try to lock folder `path`: yields True while held here, False if another process holds it, None if unopenable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        yield None
        return
    try:
        yield try_lock(fd)
    finally:
        os.close(fd)


def staging_is_live(path: str | Path) -> bool:
    """Whether a live process holds staging folder `path` (False for a leftover of a killed writer)."""
    with _folder_lock_if_free(path) as free:
        return free is False


def remove_if_stale(path: str | Path) -> bool:
    """Delete staging folder `path` unless a live process holds it; True if it was removed."""
    with _folder_lock_if_free(path) as free:
        if free:
            shutil.rmtree(path, ignore_errors=True)
        return bool(free)


@contextmanager
def staged_folder(parent: str | Path, prefix: str) -> Iterator[Path]:
    """Yield a new empty folder `parent/<prefix><hex>`, locked by this process for the whole block.

    Whatever is at that path when the block ends is deleted: nothing after the folder was renamed
    into place, the old content after an exchange (`exchange`), a half-written folder after an
    error or interrupt. Its lock tells `remove_if_stale` that the writer is alive; a folder left by
    a killed writer is unlocked, hence stale.
    """
    parent = Path(parent)
    while True:
        path = parent / f"{prefix}{uuid.uuid4().hex[:12]}"
        os.mkdir(path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if try_lock(fd) and _same_file(path, fd):
            break  # else a cleaner took it between mkdir and lock: try another name
        os.close(fd)
    try:
        yield path
    finally:
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


_RENAME_EXCHANGE = 2
_libc: list[object] = []


def _renameat2() -> object | None:
    if not _libc:
        try:
            _libc.append(ctypes.CDLL(None, use_errno=True).renameat2)
        except (AttributeError, OSError):
            _libc.append(None)
    return _libc[0]


def exchange(a: str | Path, b: str | Path) -> None:
    """Swap folders `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE).

    Where the file system cannot, `b` is moved aside to `.old-<name>-<hex>`, `a` renamed onto `b`,
    and the old `b` moved to `a`; a crash between those renames leaves the old folder under the
    `.old-` name, which `restore_set_aside` puts back.
    """
    a, b = Path(a), Path(b)
    fn = _renameat2()
    if fn is not None:
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), _RENAME_EXCHANGE) == 0:  # -100: AT_FDCWD
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(b))
    aside = b.parent / f"{SET_ASIDE}{b.name}-{uuid.uuid4().hex[:12]}"
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def restore_set_aside(folder: str | Path) -> list[str]:
    """Put back `.old-<name>-<hex>` folders of `folder` whose `<name>` is missing (an interrupted
    `exchange`); delete the others. Call it holding the lock that guards exchanges in `folder`.

    Returns:
        The names restored.
    """
    restored = []
    for entry in sorted(Path(folder).glob(f"{SET_ASIDE}*")):
        name = entry.name[len(SET_ASIDE):].rsplit("-", 1)[0]
        if not (entry.parent / name).exists():
            os.rename(entry, entry.parent / name)
            restored.append(name)
        else:
            shutil.rmtree(entry, ignore_errors=True)
    return restored
