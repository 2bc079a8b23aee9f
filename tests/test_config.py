from __future__ import annotations

from pathlib import Path

import pytest

from cgseq import config
from cgseq.errors import UsageError


def write_pyproject(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.cgseq]\n{body}\n")
    return tmp_path


def test_precedence_default_pyproject_env_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_pyproject(tmp_path, 'memory = "1G"\npids = 50\ntimeout = "10m"\nretry = 1')
    monkeypatch.setenv("CGSEQ_PIDS", "60")
    monkeypatch.setenv("CGSEQ_TIMEOUT", "5m")
    settings = config.resolve(str(project), {"timeout": "90s"})
    assert settings["memory"].value == 1 << 30
    assert settings["memory"].source == f"{project}/pyproject.toml [tool.cgseq]"
    assert (settings["pids"].value, settings["pids"].source) == (60, "env CGSEQ_PIDS")
    assert (settings["timeout"].value, settings["timeout"].source) == (90.0, "--timeout")
    assert settings["kill_grace"].source == "default"
    assert "from --timeout" in settings["timeout"].describe()


def test_bad_value_names_its_source(tmp_path: Path) -> None:
    project = write_pyproject(tmp_path, 'memory = "2X"')
    with pytest.raises(UsageError, match=r"invalid memory '2X'.*pyproject.toml \[tool.cgseq\]"):
        config.resolve(str(project), {})


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    project = write_pyproject(tmp_path, 'memroy = "2G"')
    with pytest.raises(UsageError, match="unknown key 'memroy'"):
        config.resolve(str(project), {})


def test_bad_env_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CGSEQ_BACKEND", "docker")
    with pytest.raises(UsageError, match="env CGSEQ_BACKEND"):
        config.resolve(str(tmp_path), {})


def test_no_pyproject_means_defaults(tmp_path: Path) -> None:
    settings = config.resolve(str(tmp_path), {})
    assert {s.source for s in settings.values()} == {"default"}
