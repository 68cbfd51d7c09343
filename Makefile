# One command sets up and runs each: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# mypy --strict covers the core layers (DESIGN.md, Practices).
CORE := src/veil/field.py src/veil/errors.py src/veil/encoding.py src/veil/sharing src/veil/net src/veil/mpc src/veil/dp

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

# `make verify`: Nagini, z3 and CrossHair proofs, the must-fail files, differential tests, a short
# fuzz run (verify/run.py; docs/verification.md). Nagini pins old tools: it gets its own venv.
NAGINI_VENV := .venv-nagini
NAGINI_STAMP := $(NAGINI_VENV)/.installed
VERIFY_STAMP := $(VENV)/.verify-installed
FUZZ_SECONDS ?= 20

$(VERIFY_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,verify]'
	touch $(VERIFY_STAMP)

$(NAGINI_STAMP): verify/requirements-nagini.txt
	@java -version >/dev/null 2>&1 || { echo "make verify: Nagini needs Java 11+ (apt-get install default-jre-headless)"; exit 2; }
	$(PYTHON) -m venv $(NAGINI_VENV)
	$(NAGINI_VENV)/bin/pip install --quiet --upgrade pip
	$(NAGINI_VENV)/bin/pip install --quiet -r verify/requirements-nagini.txt
	touch $(NAGINI_STAMP)

verify: $(VERIFY_STAMP) $(NAGINI_STAMP)
	$(BIN)/python verify/run.py --nagini $(NAGINI_VENV)/bin/nagini --fuzz-seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) $(NAGINI_VENV) build *.egg-info
