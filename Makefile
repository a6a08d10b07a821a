# Two commands on a fresh machine: `make run` and `make test`. Both set up what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLAGSHIP := scenarios/latency-spike.yaml

.PHONY: run test bench fuzz lint setup system-offscreen system-display clean

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

# The loader fuzzed with 100,000 hostile files, then 1,000 valid mutations run through the engine.
# FUZZ_CASES / SEMANTIC_CASES change the counts; a crash case is saved under fuzz-crashes/.
FUZZ_CASES ?= 100000
SEMANTIC_CASES ?= 1000
fuzz: setup
	$(PY) tools/fuzz.py $(FUZZ_CASES) --crashes fuzz-crashes
	$(PY) tools/fuzz_semantic.py $(SEMANTIC_CASES)

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info
