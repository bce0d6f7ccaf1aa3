# funrun: `make run` serves the demo tour on SQLite; `make test` runs every test (on SQLite,
# and on PostgreSQL too when TEST_DATABASE_URL names one).
# Both work from a fresh clone on a machine with only Python 3.11+ (and npm, later).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi

.PHONY: setup translations vendor run worker test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d translations

# The scan page's QR decoder comes from npm (package-lock.json pins it) and is served from
# static/vendor/ (git-ignored): nothing is fetched from another host at run time.
VENDOR_DIR   := static/vendor
QR_SCANNER   := node_modules/qr-scanner
VENDOR_FILES := $(VENDOR_DIR)/qr-scanner.umd.min.js $(VENDOR_DIR)/qr-scanner-worker.min.js \
                $(VENDOR_DIR)/qr-scanner.LICENSE

$(VENDOR_FILES) &: package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR_DIR)
	cp $(QR_SCANNER)/qr-scanner.umd.min.js $(QR_SCANNER)/qr-scanner-worker.min.js $(VENDOR_DIR)/
	cp $(QR_SCANNER)/LICENSE $(VENDOR_DIR)/qr-scanner.LICENSE
	touch $(VENDOR_FILES)

vendor: $(VENDOR_FILES)

setup: $(STAMP) translations vendor

run: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty --runners 2000
	@echo ""
	@echo "  funrun is at http://$(HOST):$(PORT)/  (staff sign-in: http://$(HOST):$(PORT)/login)"
	@echo ""
	@# One command serves the demo: a worker (batch printing, file clean-up) runs beside the
	@# server and stops with it (Ctrl-C stops the server; the trap then stops the worker).
	$(FLASK) worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

# A worker alone (production runs it beside gunicorn: one or more per site).
worker: setup
	$(FLASK) worker

# The suite on SQLite, then (with TEST_DATABASE_URL naming PostgreSQL) all of it again on
# PostgreSQL. The SQLite run keeps that PostgreSQL for the PostgreSQL-only tests as
# TEST_POSTGRES_URL, so neither run skips them.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	env -u TEST_DATABASE_URL TEST_POSTGRES_URL="$${TEST_POSTGRES_URL:-$$TEST_DATABASE_URL}" \
	    $(BIN)/pytest $(PYTEST_ARGS)
	if [ -n "$$TEST_DATABASE_URL" ]; then $(BIN)/pytest $(PYTEST_ARGS); fi

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Benchmarks need PostgreSQL on 127.0.0.1, wrk and poppler-utils
# (apt-get install wrk poppler-utils); see bench/README.md. Each stops by itself and writes
# bench/results/<name>-<time>.json; 10-25 minutes in all, by the machine's speed.
bench: setup
	$(BIN)/python bench/registration.py
	$(BIN)/python bench/messages.py
	$(BIN)/python bench/checkin.py
	$(BIN)/python bench/bibs.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/crash.py

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo node_modules $(VENDOR_DIR)
