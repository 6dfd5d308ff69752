# TrueStack — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test bench bench-quick faults faults-quick migrate demo check schema clean

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

migrate: $(STAMP)
	$(PY) manage.py migrate

check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

## Regenerate the committed OpenAPI schema.
schema: $(STAMP)
	DJANGO_SETTINGS_MODULE=truestack.settings.test $(PY) manage.py spectacular --validate --file docs/openapi.yaml

## Benchmarks on PostgreSQL + Redis (see docs/performance.md).
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(PY) -m bench.run --quick $(BENCH_ARGS)

## The fault suite (docs/operations.md): its own PostgreSQL cluster and Redis, the stack
## with production settings on 127.0.0.1 ports 47550-47555; every scenario, or the CI subset.
faults: $(STAMP)
	$(PY) -m faults $(FAULTS_ARGS)

faults-quick: $(STAMP)
	$(PY) -m faults --quick $(FAULTS_ARGS)

clean:
	rm -rf var
