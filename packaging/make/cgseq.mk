# cgseq.mk: heavy Makefile targets take the project's cgseq turn, one at a time, under the
# project's [tool.cgseq] limits. Include it, or copy it next to your Makefile:
#
#   include cgseq.mk
#   $(call cgseq_heavy,test lint)     # every recipe line of these targets runs through cgseq
#   test: ; pytest
#   lint: ; mypy src && ruff check src
#   docs: ; $(CGSEQ) sphinx-build docs build   # or one command at a time
#
# Then `make -j4 test lint` and a second `make` in another terminal run their heavy lines
# one at a time, and never deadlock: a line holds the turn only while it runs, and a
# $(MAKE), or any `cgseq run`, inside a heavy line runs inline in that line's turn.
#
# Each heavy recipe *line* is one turn: between two lines another job may take its turn.
# Keep a heavy step on one line (join with `&& \`), or add `.ONESHELL:` to your Makefile to
# make each whole recipe one turn. Limits per target: `test: CGSEQ = cgseq run --memory 4G --`.

# the command that runs a command in a turn (a command line's `make CGSEQ=...` wins)
CGSEQ ?= cgseq run --
# the shell cgseq runs a heavy line with, as make would without cgseq
CGSEQ_SHELL ?= /bin/sh
CGSEQ_SHELLFLAGS ?= -c

# $(call cgseq_heavy,TARGETS): make runs each recipe line of TARGETS as
# `$(CGSEQ) $(CGSEQ_SHELL) $(CGSEQ_SHELLFLAGS) LINE` (GNU make >= 3.82: .SHELLFLAGS).
# `private`: the prerequisites these targets build keep the ordinary shell.
cgseq_heavy = $(eval $(1): private SHELL = $$(firstword $$(CGSEQ)))$(eval \
  $(1): private .SHELLFLAGS = $$(wordlist 2,$$(words $$(CGSEQ)),$$(CGSEQ)) \
  $$(CGSEQ_SHELL) $$(CGSEQ_SHELLFLAGS))
