"""The process of a detached job: ``cgseq run`` in its own session, its exit code kept.

Started by ``cgseq run --detach`` (:mod:`cgseq.commands.detach`) with its stdout and stderr
in the state dir, and the fd of that directory as its first argument.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    dir_fd, args = int(sys.argv[1]), sys.argv[2:]
    code = 125
    try:
        from cgseq.main import main as cli

        code = cli(["run", *args])
    except SystemExit as exc:  # argparse's exit 2
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        from cgseq.queue import detached

        sys.stdout.flush()
        sys.stderr.flush()
        detached.write_exit(dir_fd, code)
    os._exit(code)


if __name__ == "__main__":
    main()
