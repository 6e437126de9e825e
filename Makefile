# `make run` and `make test` work on a fresh machine: each first installs what it needs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/recsys run

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	bash scripts/install_test_deps.sh $(BIN)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

clean:
	rm -rf $(VENV) logs artifacts data reports
