# probkit: every target sets up .venv itself, so a fresh clone needs only Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Installs are stamped per extra, so `make test` after `make demo` installs only what is missing.
STAMP  := $(VENV)/.probkit-installed

.PHONY: demo test test-fast bench docs lint format clean venv

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "probkit needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP)-%: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[$*]"
	@touch $@

venv: $(STAMP)-test

demo: $(STAMP)-plot
	$(VENV)/bin/probkit tour

test: $(STAMP)-test
	$(PY) -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)-test
	$(PY) -m pytest -q -x -m "not slow"

bench: $(STAMP)-bench
	$(PIP) install --quiet --no-deps "particles==0.4"
	$(PY) -m benchmarks.run_all

docs: $(STAMP)-docs
	$(VENV)/bin/mkdocs build --strict

lint: $(STAMP)-test
	$(VENV)/bin/ruff check probkit tests examples benchmarks
	$(VENV)/bin/ruff format --check probkit tests examples benchmarks

format: $(STAMP)-test
	$(VENV)/bin/ruff format probkit tests examples benchmarks
	$(VENV)/bin/ruff check --fix probkit tests examples benchmarks

clean:
	rm -rf $(VENV) out site .pytest_cache build *.egg-info
