# Two commands for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BANKBOT := $(VENV)/bin/bankbot
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2
DEMO_STAFF ?= S001

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set everything up, send this morning's digests to the console delivery log (the demo's
## own choice: REMINDER_CHANNEL=console) and open the console assistant on demo data.
demo: install
	$(BANKBOT) init
	$(BANKBOT) seed-demo
	REMINDER_CHANNEL=console $(BANKBOT) reminders run
	$(BANKBOT) chat --as $(DEMO_STAFF)

## Run the whole test suite (SQLite and PostgreSQL).
test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS)

lint: install
	$(VENV)/bin/ruff check bot handlers retrieval crm_store scheduler tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench.bench_import
	$(PY) -m bench.bench_lookup

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
