# Herald: `make run` starts everything embedded; `make test` runs the test suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-cluster soak bench migrate key flower clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: venv
	$(BIN)/flask --app api db upgrade

var/dev-api-key: | venv
	mkdir -p var
	$(BIN)/flask --app api keys create development --quiet > $@.tmp && mv $@.tmp $@

key: migrate var/dev-api-key
	@echo "Development API key (also in var/dev-api-key):"
	@cat var/dev-api-key

# The embedded default: SQLite and a filesystem broker under var/, sandbox providers,
# the API on :8000, the channel pools, webhooks, maintenance, beat and Flower on :5555;
# the inbox demo page at http://127.0.0.1:8000/demo/inbox, streaming from the Procfile's realtime on :8001.
run: key
	INBOX_DEMO=true INBOX_DEMO_STREAM_URL=http://127.0.0.1:8001/v1/inbox/stream \
		PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start -f Procfile

test: venv
	$(BIN)/pytest

# Herald in its production shape (tests/cluster/): a private three-node RabbitMQ
# cluster with quorum queues and a PostgreSQL primary with a streaming standby,
# started from the installed servers on ports the OS picks, then nodes killed.
# Minutes, so not part of `make test`; needs rabbitmq-server and PostgreSQL 15.
test-cluster: venv
	HERALD_CLUSTER=1 $(BIN)/pytest -s tests/cluster

# The soak (tests/fault/test_soak.py): full concurrency against a slow FCM fake.
SOAK_RUNS ?= 1
soak: venv
	HERALD_SOAK=$(SOAK_RUNS) $(BIN)/pytest -s tests/fault/test_soak.py

# Herald beside bare baselines, table and var/bench/results.json (docs/benchmarks.md).
# Needs PostgreSQL and RabbitMQ on 127.0.0.1; BENCH_QUICK=1 for a short run.
bench: venv
	@command -v wrk >/dev/null || echo "bench: wrk not found; using the asyncio load generator" \
		"(apt-get install wrk for a client that takes less CPU)"
	$(BIN)/python -m bench.run

# Flower alone, with workers/flowerconfig.py: 127.0.0.1 and an open API unless
# FLOWER_BASIC_AUTH=user:password is set (then FLOWER_ADDRESS may widen it).
flower: venv
	$(BIN)/celery -A workers flower --conf=workers/flowerconfig.py --port=5555

clean:
	rm -rf var
