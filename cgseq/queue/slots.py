"""A read-only view of the queue: every slot of the user, who holds it and who waits.

What ``cgseq status`` and ``doctor`` show, built only from the records and the locks.
The records are data (see :mod:`cgseq.queue.records`): a view shows them, it never acts on
them; only a dead holder's record is cleared, by :func:`clear_dead_holder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from cgseq.queue import layout, turns
from cgseq.queue.records import HolderRecord, TicketRecord


class SlotView(NamedTuple):
    """One slot as it is now."""

    key: str
    holder: HolderRecord | None  # the record, whether or not its supervisor still lives
    tickets: list[TicketRecord]  # live tickets in queue order (the holder's first)
    taken: bool  # someone holds the slot's lock (a holder, maybe not recorded yet)

    @property
    def running(self) -> HolderRecord | None:
        """The holder record of a live holder: its supervisor's ticket is first in line."""
        holder, tickets = self.holder, self.tickets
        if holder and holder.pid is not None and tickets and holder.pid == tickets[0].pid:
            return holder
        return None

    @property
    def waiting(self) -> list[TicketRecord]:
        return self.tickets[1:] if self.running or (self.tickets and self.taken) else self.tickets

    @property
    def dead_holder(self) -> HolderRecord | None:
        """A holder record while nobody holds the slot: its supervisor died (a holder
        removes its record before it lets go of the slot, so the free lock is proof)."""
        return self.holder if self.holder is not None and not self.taken else None

    @property
    def busy(self) -> bool:
        return bool(self.running or self.waiting or self.dead_holder)


def view(key: str) -> SlotView:
    return _view(layout.slot_dir(key))


def all_slots() -> list[SlotView]:
    """Every slot of the user, by key (idle ones too: filter on ``busy``)."""
    return [_view(directory) for directory in layout.slot_dirs()]


def _view(directory: Path) -> SlotView:
    tickets = turns.live_tickets(directory)
    holder = turns.read_holder(directory)
    first = tickets[0].pid if tickets else None
    live_holder = holder is not None and first is not None and holder.pid == first
    taken = live_holder or turns.slot_taken(directory)  # a live holder: no need to try the lock
    return SlotView(directory.name, holder, tickets, taken)


def directory_of(key: str) -> Path:
    """Where slot ``key`` lives, for :mod:`cgseq.queue.turns` calls on it."""
    return layout.slot_dir(key)


def holder_pid(key: str) -> int | None:
    """The pid of the slot's live holder (its ticket is first and its record says so)."""
    running = view(key).running
    return running.pid if running is not None else None


def holder_of(key: str) -> HolderRecord | None:
    """The slot's holder record, as it is (for a nested run to find its enclosing job)."""
    return turns.read_holder(layout.slot_dir(key))


def clear_dead_holder(key: str) -> HolderRecord | None:
    """Remove the record of a holder that is gone, and return it (to reap what it names)."""
    directory = layout.slot_dir(key)
    holder = turns.read_holder(directory)
    if holder is None or turns.slot_taken(directory):
        return None
    turns.clear_holder(directory)
    return holder
