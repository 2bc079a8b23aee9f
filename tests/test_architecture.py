"""The architecture, checked: who may know the state dir's layout, backend names, printing.

Static checks of the package's own source (``ast``), so that a later change cannot quietly
spread the queue's layout again, branch on a backend's name, or print from library code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgseq.backends import ORDER

PACKAGE = Path(__file__).resolve().parents[1] / "cgseq"
LAYOUT_NAMES = {"slots", "holder.json", "tickets", "queue.lock", "slot.lock", "next"}
LAYOUT_FILES = {"history.jsonl", "events.log", "crash.log"}
PRINTING_ALLOWED = {"main.py", "commands"}  # the CLI's front end prints; nothing else does


def modules(exclude: str | None = None) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if exclude is None or not relative.startswith(exclude):
            yield relative, ast.parse(path.read_text(), relative)


def strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def path_parts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String constants that build a path: ``x / "name"``, ``os.path.join(x, "name")``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.left, node.right]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("join", "joinpath"):
            parts = list(node.args)
        else:
            continue
        for part in parts:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                yield part.lineno, part.value


def test_only_the_queue_package_knows_the_state_dirs_layout() -> None:
    found = [
        f"{name}:{line}: {value!r}"
        for name, tree in modules(exclude="queue/")
        for line, value in [
            *((line, v) for line, v in path_parts(tree) if v in LAYOUT_NAMES),
            *((line, v) for line, v in strings(tree) if v in LAYOUT_FILES),
        ]
    ]
    assert found == [], "state dir layout outside cgseq/queue/:\n" + "\n".join(found)


def compared_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            items = (
                operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
            )
            for item in items:
                if isinstance(item, ast.Constant) and item.value in ORDER:
                    yield node.lineno, item.value


def test_no_backend_name_is_compared_outside_the_backends() -> None:
    found = [
        f"{name}:{line}: compares {value!r}"
        for name, tree in modules(exclude="backends/")
        for line, value in compared_names(tree)
    ]
    assert found == [], "ask the backend's capabilities instead:\n" + "\n".join(found)


@pytest.mark.parametrize("tree", ["pipeline", "queue", "backends", "supervise"])
def test_library_code_never_prints(tree: str) -> None:
    calls = [
        f"{name}:{node.lineno}"
        for name, module in modules()
        if name.startswith(f"{tree}/") or (tree == "pipeline" and name == "library.py")
        for node in ast.walk(module)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]
    assert calls == [], "report through the context's callbacks:\n" + "\n".join(calls)


def test_the_checks_can_fail() -> None:
    """The checks see what they look for (else an empty result proves nothing)."""
    tree = ast.parse('x = path / "holder.json"\nif name == "systemd": pass\nprint(1)')
    assert [v for _, v in strings(tree)] == ["holder.json", "systemd"]
    assert list(path_parts(tree)) == [(1, "holder.json")]
    assert list(compared_names(tree)) == [(2, "systemd")]
