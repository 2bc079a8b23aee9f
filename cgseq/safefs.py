"""Files and directories inside the state dir, written so that nothing planted there is obeyed.

Every file is opened with ``O_NOFOLLOW`` (a symlink is refused, never written through), new
files are made with ``O_EXCL`` under an unguessable temporary name and renamed into place,
and every directory cgseq descends into is checked with ``lstat``: a plain directory of ours,
not a symlink. The state dir itself is 0700 and ours (:mod:`cgseq.queue.layout`), so only this
user can change what is checked between the check and the use.

An ``OSError`` becomes a one-line :class:`~cgseq.errors.StateDirError` naming the path and the
errno (``ENOSPC``), with the fix as its hint. Imported by every queued waiter: ``os`` only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from cgseq.errors import StateDirError

# O_NOFOLLOW: Linux >= 2.1.126; O_CLOEXEC: Linux >= 2.6.23; O_NONBLOCK: a FIFO planted in
# place of a file must not hang the open
_SAFE = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def failure(exc: OSError, path: Path | str, doing: str) -> StateDirError:
    """The one line for a failed state-dir operation: what, where, which errno, and the fix."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    if exc.errno == errno.ELOOP:
        return StateDirError(
            f"cannot {doing} {path}: it is a symlink, and cgseq never writes through one",
            hint=f"remove it: rm {path}",
        )
    return StateDirError(f"cannot {doing} {path}: {exc.strerror} ({code})", hint=_fix(exc.errno))


def _fix(code: int | None) -> str:
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "its filesystem is full: free space there, or set CGSEQ_STATE_DIR elsewhere"
    if code == errno.EROFS:
        return "its filesystem is read-only: set CGSEQ_STATE_DIR to a writable directory"
    return "check the state dir, or set CGSEQ_STATE_DIR to a directory of your own"


def ensure_dir(path: Path) -> Path:
    """``path`` as a plain directory of ours, created 0700 if missing; anything else refused.

    FileNotFoundError from check_dir() passes: ``path`` was made (or found) and is gone
    again, which the caller may know to be a lost race against a remover.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise failure(exc, path, "create directory") from exc
    check_dir(path)
    return path


def check_dir(path: Path) -> None:
    """Refuse a symlink, a non-directory or someone else's. FileNotFoundError passes."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise failure(exc, path, "inspect") from exc
    if stat.S_ISLNK(info.st_mode):
        raise StateDirError(
            f"{path} is a symlink, not a directory: refused", hint=f"remove it: rm {path}"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"{path} is not a directory", hint=f"remove it: rm {path}")
    if info.st_uid != os.getuid():
        raise StateDirError(
            f"{path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})",
            hint=f"remove it: rm -r {path}",
        )


def open_lock(path: Path, create: bool = True) -> int:
    """A lock file's fd (to ``flock``), never through a symlink. FileNotFoundError passes."""
    flags = os.O_RDWR | _SAFE | (os.O_CREAT if create else 0)
    try:
        return _regular(os.open(path, flags, 0o600), path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise failure(exc, path, "open") from exc


def open_append(path: Path) -> int:
    """An fd appending to a regular file (created 0600), never through a symlink."""
    try:
        return _regular(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _SAFE, 0o600), path)
    except OSError as exc:
        raise failure(exc, path, "write") from exc


def append(path: Path, data: bytes) -> int:
    """Append ``data`` to a regular file (created 0600); return its new size."""
    fd = open_append(path)
    try:
        try:
            _append_whole(fd, data)
            return os.fstat(fd).st_size
        finally:
            os.close(fd)
    except OSError as exc:
        raise failure(exc, path, "write") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a fresh temporary file (O_EXCL), then rename over it.

    Readers see the old or the new content, never a torn one; a failure leaves nothing behind.
    """
    fd, temporary = create_unique(path)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.rename(temporary, path)  # rename replaces a planted link itself, never its target
    except OSError as exc:
        _unlink_quietly(temporary)
        raise failure(exc, path, "write") from exc


def create_unique(path: Path) -> tuple[int, Path]:
    """A new 0600 file beside ``path`` under a name no one else can guess or plant."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}")
    try:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _SAFE
        return os.open(temporary, flags, 0o600), temporary
    except OSError as exc:
        raise failure(exc, path, "write") from exc


def read(path: Path) -> bytes | None:
    """A regular file's bytes; None if it is missing. A symlink or a non-file is refused."""
    try:
        fd = _regular(os.open(path, os.O_RDONLY | _SAFE), path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise failure(exc, path, "read") from exc
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _regular(fd: int, path: Path) -> int:
    """Keep ``fd`` only if it is a regular file (not a FIFO, device or directory)."""
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    raise StateDirError(f"{path} is not a regular file", hint=f"remove it: rm -r {path}")


def _append_whole(fd: int, data: bytes) -> None:
    """One write: a record is appended whole or not at all (a torn tail is cut off again,
    unless someone else appended after it meanwhile)."""
    before = os.fstat(fd).st_size
    written = os.write(fd, data)
    if written < len(data):
        if os.fstat(fd).st_size == before + written:
            os.ftruncate(fd, before)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
