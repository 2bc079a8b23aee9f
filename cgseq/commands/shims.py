"""``cgseq shims install|uninstall|list``: commands on PATH that take the project's turn."""

from __future__ import annotations

import os
from pathlib import Path

from cgseq.commands.changes import apply_and_report
from cgseq.integrations import shims


def install_command(*, commands: list[str], directory: str | None) -> int:
    where = _where(directory)
    code = apply_and_report(shims.plan_install(where, commands), dry_run=False)
    _path_hint(where, commands)
    return code


def uninstall_command(*, commands: list[str], directory: str | None) -> int:
    return apply_and_report(shims.plan_uninstall(_where(directory), commands), dry_run=False)


def list_command(*, directory: str | None) -> int:
    where = _where(directory)
    names = shims.installed(where)
    print(f"{where}{'' if names else ': no cgseq shims'}")
    search_path = os.environ.get("PATH", "")
    for name in names:
        real = shims.find_real(name, where, search_path)
        print(f"  {name} -> {real or f'not found on PATH after {where}'}")
    if names:
        _path_hint(where, names)
    return 0


def _where(directory: str | None) -> Path:
    return Path(os.path.abspath(directory)) if directory else shims.default_dir()


def _path_hint(where: Path, names: list[str]) -> None:
    place = shims.place_on_path(where, names, os.environ.get("PATH", ""))
    if not place.on_path:
        print(f'{where} is not on PATH: export PATH="{where}:$PATH" (README: "Shims")')
    elif not place.first:
        print(f"{where} is on PATH after a real command of the same name: put it first")
