# probkit: every target sets up .venv itself, so a fresh clone needs only Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
UV     := $(VENV)/bin/uv
# Installs are stamped per extra, so `make test` after `make demo` installs only what is missing.
STAMP  := $(VENV)/.probkit-installed
# Every install is constrained to the lock (exact versions for every extra; `make lock` refreshes it).
LOCK   := requirements/lock.txt
# torch (test, bench, llm extras) comes first, alone, with the PyTorch CPU index beside PyPI: its
# 2.13.0+cpu build wins over PyPI's CUDA build of 2.13.0. Where that index cannot be reached, pip
# says so once and falls back to the indexes it is configured with.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
UV_VERSION  := 0.9.5
TORCH_EXTRAS := test bench llm

.PHONY: demo test test-fast test-latest bench bench-gpu docs notebooks lint format clean venv lock

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "probkit needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(UV): | $(PY)
	$(PIP) install --quiet "uv==$(UV_VERSION)"

# torch goes through pip (which falls back when the CPU index cannot be reached); everything else
# through uv, which installs the locked versions several times faster than pip.
$(STAMP)-%: pyproject.toml $(LOCK) | $(UV)
	$(if $(filter $*,$(TORCH_EXTRAS)),$(PIP) install --quiet --retries 0 -c $(LOCK) --extra-index-url $(TORCH_INDEX) torch)
	$(UV) pip install --quiet --python $(PY) -c $(LOCK) -e ".[$*]"
	@touch $@

venv: $(STAMP)-test

demo: $(STAMP)-plot
	$(VENV)/bin/probkit tour

test: $(STAMP)-test
	$(PY) -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)-test
	$(PY) -m pytest -q -x -m "not slow"

bench: $(STAMP)-bench
	$(UV) pip install --quiet --python $(PY) --no-deps "particles==0.4"
	$(PY) -m benchmarks.run_all

# Every benchmark on the device present (a GPU where JAX finds one), rows tagged with it.
bench-gpu: $(STAMP)-bench
	$(UV) pip install --quiet --python $(PY) --no-deps "particles==0.4"
	$(PY) -m benchmarks.run_all --device

docs: $(STAMP)-docs
	$(VENV)/bin/mkdocs build --strict

# Execute each notebook's percent script (docs/notebooks/*.py, the source of truth) into its
# paired .ipynb with outputs, which the site renders as committed; tests/docs/test_notebooks.py
# fails when a .ipynb is stale.
# (numpyro imports tqdm.auto, which warns in a kernel without ipywidgets: not worth a cell.)
notebooks: $(STAMP)-docs
	JAX_PLATFORMS=cpu PYTHONWARNINGS="ignore:IProgress not found" \
		$(VENV)/bin/jupytext --to ipynb --execute docs/notebooks/*.py

lint: $(STAMP)-test
	$(VENV)/bin/ruff check probkit tests examples benchmarks docs/notebooks
	$(VENV)/bin/ruff format --check probkit tests examples benchmarks docs/notebooks

format: $(STAMP)-test
	$(VENV)/bin/ruff format probkit tests examples benchmarks docs/notebooks
	$(VENV)/bin/ruff check --fix probkit tests examples benchmarks docs/notebooks

# Re-resolve the lock for every extra (universal: every platform and Python >= 3.11).
lock: | $(UV)
	$(UV) pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--upgrade -o $(LOCK)

# The suite against the newest releases inside pyproject's supported ranges (no lock), in .venv-latest.
test-latest:
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade pip
	.venv-latest/bin/pip install --quiet --retries 0 --extra-index-url $(TORCH_INDEX) "torch==2.13.0"
	.venv-latest/bin/pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	.venv-latest/bin/python -m pytest -n 2 --dist loadfile -q

clean:
	rm -rf $(VENV) .venv-latest out site .pytest_cache build *.egg-info
