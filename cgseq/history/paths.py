"""Where the history lives, and checks that nothing planted there is obeyed.

``$XDG_STATE_HOME/cgseq/history.sqlite3``; without ``XDG_STATE_HOME`` (or with a relative
one, which the XDG spec says to ignore) ``~/.local/state/cgseq/``. Missing directories are
made 0700. The ``cgseq`` directory must be a plain directory of ours, not writable by
others (checked with ``lstat``, so a symlink is refused, never followed), and the database
and its ``-wal``/``-shm`` files must be regular files of ours or missing: SQLite opens them
itself and would follow a link. Only this user can change what is checked between the check
and the use: the directory is theirs and closed to others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cgseq.history import HistoryError

DATABASE = "history.sqlite3"
COMPANIONS = ("", "-wal", "-shm", "-journal")  # what SQLite opens beside the database


def directory() -> Path:
    """The history directory (not created)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "cgseq"


def database() -> Path:
    """The checked database path; its directory is created 0700 when missing."""
    folder = directory()
    _make(folder)
    check_directory(folder)
    path = folder / DATABASE
    check_files(path)
    return path


def _make(folder: Path) -> None:
    missing = [p for p in (folder, *folder.parents) if not os.path.lexists(p)]
    for path in reversed(missing):  # XDG: directories made for the state are 0700
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # made meanwhile by another cgseq: check_directory() says if it will do
        except OSError as exc:
            raise failure(exc, path, "create the history directory") from None


def check_directory(folder: Path) -> None:
    """Refuse a history directory that is a symlink, not ours, or writable by others."""
    info = _lstat(folder, "use the history directory")
    if info is None or not stat.S_ISDIR(info.st_mode):  # lstat: a symlink is no directory
        raise HistoryError(
            f"history directory {folder} is not a plain directory (a symlink?)",
            hint=f"remove it: rm {folder}",
        )
    _check_owner(folder, info)
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise HistoryError(
            f"history directory {folder} is writable by others (mode {mode:o})",
            hint=f"chmod 700 {folder}",
        )


def check_files(path: Path) -> None:
    """The database and its companions: regular files of ours, or missing."""
    for found in (path.with_name(path.name + suffix) for suffix in COMPANIONS):
        info = _lstat(found, "use")
        if info is None:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise HistoryError(
                f"{found} is not a regular file (a symlink?): refused",
                hint=f"remove it: rm {found}",
            )
        _check_owner(found, info)


def _lstat(path: Path, doing: str) -> os.stat_result | None:
    """``lstat`` (a link is seen, never followed); None when there is nothing."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise failure(exc, path, doing) from None


def _check_owner(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.getuid():
        raise HistoryError(
            f"{path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})",
            hint="set XDG_STATE_HOME to a directory of your own",
        )


def create(path: Path) -> None:
    """Make a missing database file 0600, never through a symlink (SQLite would make it
    with the umask's mode; its -wal and -shm files take the database's mode)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        os.close(os.open(path, flags, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise failure(exc, path, "create") from None


def failure(exc: OSError, path: Path, doing: str) -> HistoryError:
    return HistoryError(f"cannot {doing} {path}: {exc.strerror or exc}")
