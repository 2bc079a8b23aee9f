"""Where the queue's state lives: the one module that knows the state dir and its layout.

``$CGSEQ_STATE_DIR`` if set, else ``$XDG_RUNTIME_DIR/cgseq``, else ``<tmp>/cgseq-<uid>``
(``<tmp>``: ``$TMPDIR``, else ``/tmp``).
The directory must be owned by the user and not writable by group or others: a
directory someone else controls could be used to hijack the queue or the records.
Nothing is ever written into the project tree. Inside it::

    slots/<slot key>/   one per project or named lock (its layout: :mod:`cgseq.queue.turns`)
    history.jsonl       finished jobs, one JSON line each
    events.log          cgseq's own event log
    crash.log           the last crash of cgseq itself
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cgseq.errors import StateDirError


def state_dir() -> Path:
    """The checked state directory, created 0700 if missing."""
    path = _candidate()
    _ensure(path)
    return path


def _candidate() -> Path:
    explicit = os.environ.get("CGSEQ_STATE_DIR")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return Path(runtime) / "cgseq"
    return Path(_temp_root()) / f"cgseq-{os.getuid()}"


def _temp_root() -> str:
    """``tempfile.gettempdir()``'s first choices without :mod:`tempfile` (it brings shutil,
    random, bz2, lzma and zlib onto every run): ``$TMPDIR``, ``$TEMP``, ``$TMP`` if it is a
    directory we can write, else ``/tmp``."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value and os.path.isdir(value) and os.access(value, os.W_OK | os.X_OK):
            return value
    return "/tmp"


def _ensure(path: Path) -> None:
    try:
        try:
            os.mkdir(path, 0o700)
        except FileNotFoundError:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # whatever it is, check() says whether it will do
    except OSError as exc:
        from cgseq.safefs import failure

        raise failure(exc, path, "create state dir") from exc
    check(path)


def check(path: Path) -> None:
    """Refuse a state dir that is a symlink, not ours, or writable by others."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        from cgseq.safefs import failure

        raise failure(exc, path, "use state dir") from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"state dir {path} is not a plain directory", hint="remove it")
    if info.st_uid != os.getuid():
        raise StateDirError(
            f"state dir {path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})",
            hint="set CGSEQ_STATE_DIR to a directory of your own",
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateDirError(
            f"state dir {path} is writable by others (mode {stat.S_IMODE(info.st_mode):o})",
            hint=f"chmod 700 {path}",
        )


SLOTS = "slots"


def slot_dir(key: str) -> Path:
    """The directory of one slot (not created: :func:`cgseq.queue.turns.queue_up` does)."""
    return state_dir() / SLOTS / key


def slot_dirs() -> list[Path]:
    """Every slot's directory that exists now, by key; never through a planted link."""
    slots = state_dir() / SLOTS
    try:
        info = os.lstat(slots)
        names = sorted(os.listdir(slots)) if stat.S_ISDIR(info.st_mode) else None
    except FileNotFoundError:
        return []
    except OSError as exc:
        from cgseq.safefs import failure

        raise failure(exc, slots, "read") from exc
    if names is None:
        raise StateDirError(f"{slots} is not a plain directory", hint=f"remove it: rm {slots}")
    return [slots / name for name in names if not name.startswith(".")]


def history_file() -> Path:
    return state_dir() / "history.jsonl"


def events_file() -> Path:
    return state_dir() / "events.log"


def crash_file() -> Path:
    return state_dir() / "crash.log"
