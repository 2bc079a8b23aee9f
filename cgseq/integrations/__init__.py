"""Entry points that take their turn by themselves: git hooks and command shims.

Each writes small POSIX ``sh`` scripts that carry a marker line, so that cgseq removes only
what it wrote (:mod:`cgseq.integrations.scripts`), and that run their real work as
``"$PY" -m cgseq run -- WORK "$@"``: a turn under the project's limits, or inline when they
already run inside a cgseq job (nesting is found by ancestry). Changes are planned first and
applied after, so that a dry run shows exactly what would be done. Nothing here prints.
"""
