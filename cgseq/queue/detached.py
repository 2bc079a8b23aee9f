"""Where a detached job (``cgseq run --detach``) keeps its output and its exit code.

``detached/<job id>/`` in the state dir: ``stdout`` and ``stderr`` (what the job and its
``cgseq run`` wrote), and ``exit`` once it has ended. The directory is made under a dot name
before the job's process exists (its output files are opened first), and renamed to the job's
id once that is known; the job writes ``exit`` through a directory fd, so the rename does not
matter to it. ``cgseq wait`` replays the output and removes the directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import NamedTuple

from cgseq import safefs
from cgseq.queue import layout

ROOT = "detached"
EXIT = "exit"


class Prepared(NamedTuple):
    directory: Path  # under a dot name until named
    stdout: int
    stderr: int
    dir_fd: int  # for the job's process: where it writes its exit code

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self.dir_fd):
            os.close(fd)


def prepare() -> Prepared:
    root = safefs.ensure_dir(layout.state_dir() / ROOT)
    directory = root / f".new-{os.getpid()}-{os.urandom(6).hex()}"
    safefs.ensure_dir(directory)
    out = safefs.open_append(directory / "stdout")
    err = safefs.open_append(directory / "stderr")
    return Prepared(directory, out, err, os.open(directory, os.O_RDONLY | os.O_DIRECTORY))


def name(prepared: Prepared, job_id: str) -> None:
    os.rename(prepared.directory, directory_of(job_id))


def directory_of(job_id: str) -> Path:
    if not job_id or "/" in job_id or job_id.startswith("."):
        raise ValueError(f"not a job id: {job_id!r}")
    return layout.state_dir() / ROOT / job_id


def write_exit(dir_fd: int, code: int) -> None:
    """The job's exit code, written whole (a temporary renamed into place) by the job."""
    temporary = f".{EXIT}.{os.getpid()}"
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd
    )
    try:
        safefs.write_all(fd, str(code).encode())
    finally:
        os.close(fd)
    os.rename(temporary, EXIT, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def exit_code(job_id: str) -> int | None:
    raw = safefs.read(directory_of(job_id) / EXIT)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def output(job_id: str) -> tuple[bytes, bytes]:
    directory = directory_of(job_id)
    return safefs.read(directory / "stdout") or b"", safefs.read(directory / "stderr") or b""


def exists(job_id: str) -> bool:
    try:
        safefs.check_dir(directory_of(job_id))
    except (FileNotFoundError, ValueError):
        return False
    return True


def remove(job_id: str) -> None:
    import shutil  # bz2, lzma, zlib with it: only when a detached job's files go

    with contextlib.suppress(OSError):
        shutil.rmtree(directory_of(job_id))
