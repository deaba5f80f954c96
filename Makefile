# sepsim: two commands. `make run` runs the default experiment; `make test` runs the default test suite.
# Both create .venv and install sepsim into it on first use (and again whenever pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXPERIMENT ?= immunosep

.PHONY: run test test-slow lint typecheck bench clean-cache

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/sepsim experiment=$(EXPERIMENT) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadscope $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check sepsim tests benchmarks
	$(BIN)/ruff format --check sepsim tests benchmarks

typecheck: $(STAMP)
	$(BIN)/basedpyright --pythonpath $(BIN)/python

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b --quick || exit 1; done

clean-cache:
	rm -rf .cache/sepsim
