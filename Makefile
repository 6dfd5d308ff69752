# TrueStack — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test lint bench bench-quick bench-reference bench-admin faults faults-quick migrate demo check schema messages clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

## Start web, worker and beat on the embedded default (SQLite, file broker, sandbox).
run: $(STAMP)
	$(PY) -m truestack.runner

## Run the whole test suite (SQLite unless DATABASE_URL/REDIS_URL are set).
test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## Format check, lint, import layers and types (what .ci/run checks after the tests).
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

migrate: $(STAMP)
	$(PY) manage.py migrate

check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

## Regenerate the committed OpenAPI schema.
schema: $(STAMP)
	DJANGO_SETTINGS_MODULE=truestack.settings.test $(PY) manage.py spectacular --validate --file docs/openapi.yaml

## Re-extract and compile the end-user pages' translations (needs GNU gettext; the .mo is committed).
messages: $(STAMP)
	$(PY) manage.py makemessages -l ms --no-location --no-obsolete --ignore=.venv --ignore=var --ignore=tests \
		--ignore=sdk --ignore=examples --ignore=bench --ignore=templates/admin
	$(PY) manage.py compilemessages -l ms --ignore=.venv

## Benchmarks on PostgreSQL + Redis (see docs/performance.md).
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(PY) -m bench.run --quick $(BENCH_ARGS)

## Operator portal timings on 100,000 sessions (drops and recreates its own database).
bench-admin: $(STAMP)
	$(PY) -m bench.admin $(BENCH_ARGS)

## The fault suite (docs/operations.md): its own PostgreSQL cluster and Redis, the stack
## with production settings on 127.0.0.1 ports 27550-27555; every scenario, or the CI subset.
faults: $(STAMP)
	$(PY) -m faults $(FAULTS_ARGS)

faults-quick: $(STAMP)
	$(PY) -m faults --quick $(FAULTS_ARGS)

## Against the shared provider mock, the reference load shape (MOCK=path to mock_innovatif.py).
MOCK ?= ../shared/bench/mock_innovatif.py
bench-reference: $(STAMP)
	$(PY) -m bench.run --reference --mock $(MOCK) $(BENCH_ARGS)

clean:
	rm -rf var
