"""cgseq's own exceptions; only ``cgseq.main`` turns them into exit codes."""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_CANCELLED = 123  # `cgseq cancel` took the job out of the queue before it ran
EXIT_TIMEOUT = 124
EXIT_CGSEQ_FAILURE = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGNAL_BASE = 128
EXIT_INTERRUPTED = 130
EXIT_KILLED = 143  # 128 + SIGTERM: `cgseq kill` stopped the job (SIGTERM, then SIGKILL)


class CgseqError(Exception):
    """Base of every error cgseq raises; ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_CGSEQ_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(CgseqError):
    """Bad command line, option value or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class StateDirError(CgseqError):
    """The private state directory is missing, unsafe or not ours (exit 125)."""


class WaitTimeout(CgseqError):
    """``--wait-timeout`` ran out before this job got its turn (exit 125)."""


class BackendUnavailable(CgseqError):
    """A backend cannot run here, or a limit it was asked for did not take.

    ``backend`` names it, ``hint`` carries the exact fix.
    """

    def __init__(self, backend: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"backend {backend}: {message}", hint=hint)
        self.backend = backend
        self.reason = message


class Interrupted(CgseqError):
    """cgseq got SIGTERM or SIGHUP while waiting for its turn (exit 128+N); nothing ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(
            f"interrupted by signal {signum} while waiting for a turn; the job did not run"
        )
        self.exit_code = EXIT_SIGNAL_BASE + signum


class Cancelled(CgseqError):
    """``cgseq cancel`` took this job out of the queue before it ran (exit 123)."""

    exit_code = EXIT_CANCELLED

    def __init__(self, by: int | None) -> None:
        who = f"by cgseq cancel from pid {by}" if by is not None else "by cgseq cancel"
        super().__init__(f"cancelled before it ran ({who})")
        self.by = by


class SpawnError(CgseqError):
    """The command could not be started (126 not executable, 127 not found)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
