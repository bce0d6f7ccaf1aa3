# funrun: `make run` serves the demo tour on SQLite; `make test` runs every test.
# Both work from a fresh clone on a machine with only Python 3.11+ (and npm, later).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi

.PHONY: setup translations run test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d translations

setup: $(STAMP) translations

run: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo ""
	@echo "  funrun is at http://$(HOST):$(PORT)/  (staff sign-in: http://$(HOST):$(PORT)/login)"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: setup
	$(BIN)/python bench/registration.py

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
