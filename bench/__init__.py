"""cgseq's benchmark suite: cgseq and the tools users would pick instead, side by side.

Run ``python -m bench [--quick] [--only FIGURE,...] [--json FILE] [--markdown FILE]``.

Vocabulary (as in cgseq): a *runner* is a tool that runs a command exclusively in a *slot*
(a cgseq lock, a flock file, a sem id, an nq queue dir, a task-spooler socket); the *holder*
runs in the slot, *waiters* queue behind it. Baselines (bare ``true``, bare ``python3 -c pass``)
are measured in the same run, and every time is also shown as a ratio to them.
"""
