# One command sets up and runs each: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# mypy --strict covers the core layers (DESIGN.md, Practices).
CORE := src/veil/field.py src/veil/errors.py src/veil/sharing src/veil/net src/veil/mpc src/veil/dp

.PHONY: demo test lint typecheck pytest clean verify

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,fairness-tests]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/veil demo raises

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict $(CORE)

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build *.egg-info
