# The two commands: `make run` and `make test`. Needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

# Compiled message catalogues (*.mo) are build artefacts, not in git: built from
# the .po files on install, and rebuilt before run/test whenever a .po is newer.
PO := $(wildcard saas/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: install run test bench lint format clean translations

install: $(VENV)/.installed $(MO)

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

# For developers: collect the strings marked with _() / _l() into messages.pot, merge
# them into every language's .po (new and changed ones untranslated), compile.
translations: $(VENV)/.installed
	$(BIN)/pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 \
		--project saas-crm --sort-by-file --no-wrap -o saas/translations/messages.pot .
	$(BIN)/pybabel --quiet update --no-wrap --ignore-obsolete --no-fuzzy-matching \
		-i saas/translations/messages.pot -d saas/translations
	$(BIN)/pybabel compile --statistics -d saas/translations

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
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts $(MO)
