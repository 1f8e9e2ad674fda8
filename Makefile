# Two commands: `make run` (set up, migrate, start the bot) and `make test` (set up, run all tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test demo sandbox migrate bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m bot run

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) -m bot demo

sandbox: setup
	$(PY) -m sandbox

migrate: setup
	$(PY) -m bot db upgrade

clean:
	rm -rf $(VENV) .pytest_cache
