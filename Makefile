PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The API's development default: an agent of `make agent` registers with `make run`'s API.
REGISTRATION_TOKEN ?= jetdeck-dev-registration-token

.PHONY: run cluster agent test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m workers.supervisor

# Three nats-servers (R3 streams), `make run`'s supervisor and a second API on the next port.
cluster: $(STAMP)
	$(BIN)/python -m workers.cluster

agent: $(STAMP)
	$(BIN)/python -m agent --registration-token $(REGISTRATION_TOKEN)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.all

clean:
	rm -rf $(VENV) .jetdeck
