# deidentify — developer entry points. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export KAFKA_BOOTSTRAP ?= 127.0.0.1:9092

.PHONY: setup demo test test-unit lint kafka kafka-stop kafka-status bench clean compose-secrets

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## setup: create or refresh .venv (afterwards .venv/bin/deidentify exists)
setup:
	rm -f $(STAMP)
	$(MAKE) $(STAMP)

## demo: start the local broker and run the whole path end to end
demo: $(STAMP)
	$(BIN)/deidentify demo $(DEMO_ARGS)

## test: the whole suite (unit, property, Kafka integration) against a real local broker
test: $(STAMP)
	scripts/with-kafka.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not kafka" $(PYTEST_ARGS)

## lint: ruff (incl. unused noqa) over everything, mypy over the pure core
lint: $(STAMP)
	$(BIN)/ruff check deidentify tests benchmarks
	$(BIN)/mypy

## kafka: start the local KRaft broker in the background (reuses a running one)
kafka:
	scripts/kafka.sh start

## kafka-stop: stop the broker that `make kafka` started
kafka-stop:
	scripts/kafka.sh stop

kafka-status:
	scripts/kafka.sh status

## compose-secrets: the web config and passwords docker-compose.yml reads (deploy/secrets/)
compose-secrets: $(STAMP)
	PYTHON=$(BIN)/python scripts/compose-secrets.sh

## bench: the side-by-side benchmarks (installs the bench extra)
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	scripts/with-kafka.sh $(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
