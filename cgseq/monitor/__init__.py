"""``cgseq monitor``: a live terminal view of the queue, its running job and the recent jobs.

- :mod:`cgseq.monitor.data` gathers one view (the :mod:`cgseq.snapshot` dict plus the running
  jobs' largest processes and the recent jobs of the history);
- :mod:`cgseq.monitor.frame` turns a view into text lines for a width and a height (pure);
- :mod:`cgseq.monitor.screen` is the curses loop and its keys.

Nothing here is imported by ``cgseq run``: curses and sqlite3 load only when the monitor runs.
"""
