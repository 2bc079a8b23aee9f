"""The library's :class:`JobFailed`, apart from :mod:`cgseq.result` so that the command line,
which never raises it, does not import :mod:`subprocess` for its base class."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from cgseq.errors import CgseqError

if TYPE_CHECKING:
    from cgseq.result import JobResult


class JobFailed(CgseqError, subprocess.CalledProcessError):
    """``cgseq.run(..., check=True)``: the job ended with a non-zero exit code.

    A :class:`subprocess.CalledProcessError` too, so ``except CalledProcessError`` code
    keeps working: ``returncode``, ``cmd``, ``stdout``/``output`` and ``stderr`` are the
    job's; ``result`` is the whole :class:`JobResult` (``reason``, ``detail``, usage).
    """

    def __init__(self, result: JobResult) -> None:
        subprocess.CalledProcessError.__init__(
            self, result.exit_code, result.argv, result.stdout, result.stderr
        )
        why = f" ({result.reason.value}: {result.detail})" if result.detail else ""
        # not CgseqError.__init__: its super() is CalledProcessError's, set up above
        self.message = f"command {result.argv!r} exited with {result.exit_code}{why}"
        self.hint = None
        self.result = result
        self.exit_code = result.exit_code

    def __str__(self) -> str:
        return CgseqError.__str__(self)
