"""``cgseq config``: every effective setting and where it came from."""

from __future__ import annotations

import json
import os

from cgseq import config
from cgseq.project import project_root


def config_command(*, as_json: bool) -> int:
    project = project_root(os.getcwd())
    settings = config.resolve(project, {})
    if as_json:
        data = {n: {"value": s.value, "source": s.source} for n, s in settings.items()}
        print(json.dumps({"project": project, "settings": data}, indent=2))
        return 0
    print(f"project: {project}")
    width = max(len(name) for name in settings)
    for name, setting in settings.items():
        shown = config.BY_NAME[name].show(setting.value)
        print(f"  {name:<{width}}  {shown:<10}  (from {setting.source})")
    return 0
