# The two commands: `make run` and `make test`. Needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test bench lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	$(BIN)/saas dev

test: install
	$(BIN)/python -m pytest -q

bench: install
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

lint: install
	$(BIN)/ruff check saas tests bench migrations
	$(BIN)/ruff format --check saas tests bench

format: install
	$(BIN)/ruff check --fix saas tests bench
	$(BIN)/ruff format saas tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
