# Two commands on a fresh machine: `make run` and `make test`. Both set up what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLAGSHIP := scenarios/latency-spike.yaml

.PHONY: run test bench lint setup system-offscreen system-display clean

$(PY):
	$(PYTHON) -m venv $(VENV) || (rm -rf $(VENV) && tools/setup-system.sh venv && $(PYTHON) -m venv $(VENV))
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[gui,dask,dev]'
	touch $(STAMP)

setup: $(STAMP)

system-offscreen:
	@tools/setup-system.sh offscreen

system-display:
	@tools/setup-system.sh display

test: system-offscreen setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q -p no:cacheprovider

run: system-display setup
	@$(PY) -m gui.launch $(FLAGSHIP)

bench: setup
	$(PY) bench/run_all.py

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info
