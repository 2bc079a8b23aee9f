"""State files are never written through a planted symlink or under a guessable name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cgseq import crash, safefs
from cgseq.errors import StateDirError
from cgseq.queue import turns
from cgseq.queue.records import HolderRecord, TicketRecord


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file someone else owns, that a planted link points at: it must stay as it is."""
    path = tmp_path / "victim"
    path.write_text("precious\n")
    return path


def test_write_atomic_replaces_a_link_never_its_target(tmp_path: Path, victim: Path) -> None:
    target = tmp_path / "holder.json"
    target.symlink_to(victim)
    safefs.write_atomic(target, b"{}")
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink() and target.read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holder.json", "victim"]


def test_holder_temp_name_cannot_be_planted(tmp_path: Path, victim: Path) -> None:
    """The holder's temporary was `.holder.json.<pid>`: a link planted there was written to."""
    slot = tmp_path / "slot"
    turn = turns.queue_up(slot, TicketRecord(pid=os.getpid()))
    (slot / f".holder.json.{os.getpid()}").symlink_to(victim)
    try:
        turn.write_holder(HolderRecord(pid=os.getpid()))
        assert victim.read_text() == "precious\n"
        assert turns.read_holder(slot) == HolderRecord(pid=os.getpid())
    finally:
        turn.release()


@pytest.mark.parametrize("dangling", [False, True])
def test_append_refuses_a_link(tmp_path: Path, victim: Path, dangling: bool) -> None:
    link = tmp_path / "history.jsonl"
    link.symlink_to(victim if not dangling else tmp_path / "made-by-link")
    with pytest.raises(StateDirError, match="symlink"):
        safefs.append(link, b"line\n")
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "made-by-link").exists()


def test_append_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "events.log"
    os.mkfifo(fifo)
    with pytest.raises(StateDirError, match=r"cannot write .*events\.log"):
        safefs.append(fifo, b"line\n")


def test_read_refuses_a_link_and_a_directory(tmp_path: Path, victim: Path) -> None:
    (tmp_path / "link").symlink_to(victim)
    (tmp_path / "dir").mkdir()
    with pytest.raises(StateDirError, match="symlink"):
        safefs.read(tmp_path / "link")
    with pytest.raises(StateDirError, match="not a regular file"):
        safefs.read(tmp_path / "dir")
    assert safefs.read(tmp_path / "missing") is None


def test_ensure_dir_refuses_a_link_to_a_directory(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "slots").symlink_to(real)
    with pytest.raises(StateDirError, match="symlink, not a directory"):
        safefs.ensure_dir(tmp_path / "slots")
    assert safefs.ensure_dir(tmp_path / "new") == tmp_path / "new"
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


def test_crash_log_never_lands_in_the_shared_temp_dir(
    tmp_path: Path,
    victim: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the state dir unusable, the crash log went to a fixed $TMPDIR/cgseq-crash.log,
    through any link planted there (root's cgseq overwrote the link's target)."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    (shared / "cgseq-crash.log").symlink_to(victim)
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", str(shared))  # gettempdir() caches TMPDIR
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(victim / "not-a-dir"))
    where = crash.write_crash_log(RuntimeError("a bug"))
    assert where == "stderr"
    assert victim.read_text() == "precious\n"
    assert "RuntimeError: a bug" in capsys.readouterr().err


def test_crash_log_in_the_state_dir_never_follows_a_link(
    state_dir: Path, victim: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (state_dir / "crash.log").symlink_to(victim)
    where = crash.write_crash_log(RuntimeError("a bug"))
    assert where == str(state_dir / "crash.log")
    assert victim.read_text() == "precious\n"
    assert "RuntimeError: a bug" in (state_dir / "crash.log").read_text()
