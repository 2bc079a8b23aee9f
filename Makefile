# cgseq — developer entry points. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Capabilities whose absence fails the suite instead of skipping (CI sets these).
CGSEQ_TEST_REQUIRE ?=
export CGSEQ_TEST_REQUIRE

.PHONY: help install test test-host test-vm lint typecheck bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed  ## create .venv with cgseq (editable) and run a real job under it
	$(VENV)/bin/cgseq run --memory 256M --pids 64 --timeout 30s -- $(PY) -c 'print("hello from a cgseq job")'
	$(VENV)/bin/cgseq doctor --no-canary

lint: $(VENV)/.installed  ## ruff check + format check
	$(PY) -m ruff check cgseq tests bench
	$(PY) -m ruff format --check cgseq tests bench

typecheck: $(VENV)/.installed  ## mypy --strict on the package
	$(PY) -m mypy

test-host: $(VENV)/.installed  ## pytest on this machine (kernel tests skip without root/cgroups)
	$(PY) -m pytest -q

test-vm: $(VENV)/.installed  ## the systemd + pure cgroup v2 suite in the test VM (builds it if needed)
	bash tests/vm/test-vm.sh

test: lint typecheck test-host  ## the whole suite: lint, types, host tests, then the VM suite where it applies
	bash tests/vm/maybe-run.sh

bench: $(VENV)/.installed  ## benchmark cgseq against flock, nq, tsp, sem (see bench/)
	$(PY) -m bench

clean:  ## remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
