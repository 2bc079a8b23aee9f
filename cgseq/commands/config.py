"""``cgseq config``: every effective setting and where it came from."""

from __future__ import annotations

import argparse
import json
import os

from cgseq import config
from cgseq.project import project_root


def config_command(args: argparse.Namespace) -> int:
    project = project_root(os.getcwd())
    settings = config.resolve(project, {})
    if args.json:
        data = {n: {"value": s.value, "source": s.source} for n, s in settings.items()}
        print(json.dumps({"project": project, "settings": data}, indent=2))
        return 0
    print(f"project: {project}")
    width = max(len(name) for name in settings)
    for name, setting in settings.items():
        print(f"  {name:<{width}}  {_show(name, setting.value):<10}  (from {setting.source})")
    return 0


def _show(name: str, value: object) -> str:
    from cgseq.units import format_duration, format_size

    if value is None:
        return "none"
    if name in ("memory", "swap") and isinstance(value, int):
        return format_size(value)
    if name in ("timeout", "kill_grace", "wait_timeout", "poll_interval"):
        return format_duration(float(value))  # type: ignore[arg-type]
    return str(value)
