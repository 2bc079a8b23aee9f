from __future__ import annotations

import os
from pathlib import Path

import pytest

from cgseq.errors import StateDirError
from cgseq.queue.layout import state_dir


def test_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state"
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(target))
    assert state_dir() == target
    assert (target.stat().st_mode & 0o777) == 0o700


def test_world_writable_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state"
    target.mkdir()
    target.chmod(0o777)
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(target))
    with pytest.raises(StateDirError, match="writable by others"):
        state_dir()


def test_symlink_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(tmp_path / "link"))
    with pytest.raises(StateDirError, match="not a plain directory"):
        state_dir()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a directory to another user")
def test_other_owner_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state"
    target.mkdir(mode=0o700)
    os.chown(target, 65534, 65534)
    monkeypatch.setenv("CGSEQ_STATE_DIR", str(target))
    with pytest.raises(StateDirError, match="owned by uid 65534"):
        state_dir()
