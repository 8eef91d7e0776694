# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The PostgreSQL that `make test` also runs the suite against, when reachable.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

# What serving needs (requirements.txt), and on top of it what the tests, the
# benchmark and the training example need (requirements-dev.txt).
SERVER := $(VENV)/.installed-server
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres migrate install clean chromium bench against wrk soak cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVER): requirements.txt clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(SERVER)

$(STAMP): $(SERVER) requirements-dev.txt requirements-ray.txt bench/requirements.txt clients/python/examples/requirements.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# The Ray runtime on top of the server's requirements (make cluster).
RAY := $(VENV)/.installed-ray

$(RAY): $(SERVER) requirements-ray.txt
	$(BIN)/pip install --quiet -r requirements-ray.txt
	touch $(RAY)

install: $(STAMP)

migrate: $(SERVER)
	$(BIN)/python manage.py migrate --noinput

# The production server (gymapi/serve.py): uvicorn, HTTP and WebSocket in one process.
run: migrate
	$(BIN)/python -m gymapi.serve --host $(HOST) --port $(PORT)

# The Ray runtime (README, Scaling out): a local Ray head, unless RAY_ADDRESS names a
# cluster, and FRONTS fronts on consecutive ports from PORT, in the foreground. It
# needs DATABASE_URL (PostgreSQL) and REDIS_URL.
FRONTS ?= 2

cluster: $(RAY)
	$(BIN)/python -m gymapi.cluster --fronts $(FRONTS) --host $(HOST) --port $(PORT)

test: chromium wrk test-sqlite test-postgres

# Debian's chromium for the browser tests (installed through apt when missing).
chromium:
	@sh scripts/ensure_chromium.sh

# The Ray runtime's tests (-m cluster) need PostgreSQL: the PostgreSQL run takes them.
test-sqlite: $(STAMP)
	$(BIN)/python -m pytest -m "not cluster" --durations=15

# The same suite against PostgreSQL. Skipped when no server answers, except in
# CI (CI=true), where a missing database is a failure.
test-postgres: $(STAMP)
	@if $(BIN)/python scripts/db_reachable.py "$(TEST_POSTGRES_URL)"; then \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/python -m pytest -m "not database_free" --durations=15; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is not reachable, and CI needs it."; exit 1; \
	else \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is not reachable: skipping the PostgreSQL run."; \
	fi

# The benchmark table (bench/run.py): gymapi against a FastAPI peer, side by
# side (its requirements come with requirements-dev.txt: the suite runs it in
# quick mode). BENCH_QUICK=1 for a smoke run of a few seconds.
wrk:
	@sh scripts/ensure_wrk.sh

bench: $(STAMP) wrk
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.ray_bench
	$(BIN)/python -m bench.resume

# This checkout against an earlier commit, both servers at once (README, Performance).
against: $(STAMP) wrk
	@test -n "$(COMMIT)" || { echo "Name the commit to measure against: make against COMMIT=<commit>"; exit 2; }
	$(BIN)/python -m bench.against $(COMMIT)

# The soak test (bench/soak.py): 32 clients against the production server for
# 3 minutes; SOAK_SECONDS and SOAK_CLIENTS change that. Exits 1 on any error.
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
