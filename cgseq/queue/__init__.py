"""The queue's state on disk; nothing outside this package knows the state dir's layout.

- :mod:`~cgseq.queue.layout`: where the state dir is, and what lies in it;
- :mod:`~cgseq.queue.records`: the ticket and holder records, typed and versioned;
- :mod:`~cgseq.queue.turns`: taking a turn (tickets, the slot lock, the holder record);
- :mod:`~cgseq.queue.slots`: a read-only view of every slot, for ``status`` and ``doctor``.

Every file in it is written through :mod:`cgseq.safefs`: never through a symlink.
"""
