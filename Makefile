# The two set-up commands of the README are `make run` and `make test`;
# both create .venv and install the project into it on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The portal's catalogues (web/i18n.py). The .mo files are committed, so a checkout runs
# as it is; `make run` and `make test` compile again any .po edited since.
LOCALES := web/locale
MO := $(patsubst %.po,%.mo,$(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po))

.PHONY: run test check bench bench-quick clean translations compile-translations

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is needed: set PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP) $(MO)
	$(BIN)/gnlc serve

test: $(STAMP) $(MO)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pytest

# Extract the message ids from the templates and the code (babel.cfg) and bring every
# language's catalogue up to date: new ids appear untranslated, unused ones go.
translations: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel -q extract -F babel.cfg -k t --no-location --sort-output \
	    --project gnlc -o build/messages.pot .
	$(BIN)/pybabel -q update -i build/messages.pot -d $(LOCALES) -D messages \
	    --no-fuzzy-matching --ignore-obsolete --width 100
	$(MAKE) compile-translations

compile-translations: $(MO)

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel -q compile -l $* -i $< -o $@

bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk || { echo "benchmark 4 needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var build *.egg-info
