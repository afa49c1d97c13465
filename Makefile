# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast bootstrap docs bench fidelity mutation clean

# pip's own notices and warnings go to $(VENV)/pip.log (shown only when pip fails), so
# `make demo` prints the demo and nothing else.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip install -q
QUIET_PIP = >>$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }

# The demo needs only the package itself; the test suite also needs Ray, Playwright & co.
$(BIN)/.base: pyproject.toml
	@echo "Installing raygate into $(VENV) (pip log: $(VENV)/pip.log)..."
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip $(QUIET_PIP)
	@$(PIP) -e . $(QUIET_PIP)
	@touch $@

$(BIN)/.test: pyproject.toml $(BIN)/.base
	@echo "Installing the test dependencies (Ray, Playwright...) into $(VENV)..."
	@$(PIP) -e '.[test,ray,operator]' $(QUIET_PIP)
	@touch $@

bootstrap: $(BIN)/.test

demo: $(BIN)/.base
	@bash scripts/demo.sh $(BIN)

# The whole suite, with real Ray, nginx and Chromium (installed here when missing).
test: $(BIN)/.test
	bash scripts/install-system-deps.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Unit tests only (no Ray head, nginx or browser).
test-fast: $(BIN)/.test
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

# Mutation testing (mutmut) of apply, config, report/sarif, the tcp-services parser and the
# exposure model; slow, never part of `make test`. One module: make mutation MUTATION=config
MUTATION ?= all
mutation: $(BIN)/.test
	$(PIP) -e '.[mutation]' $(QUIET_PIP)
	PYTHON=$(BIN)/python bash scripts/mutation.sh $(MUTATION)

docs: $(BIN)/.base
	$(BIN)/raygate rules -o markdown > docs/rules.md

bench: $(BIN)/.test
	$(BIN)/python bench/lint_vs_checkov.py

# Right about real setups (thread corpus, ingress-nginx cases, lint speed): docs/fidelity.md.
fidelity: $(BIN)/.test
	$(BIN)/python bench/fidelity.py --check

clean:
	rm -rf $(VENV) build dist src/*.egg-info artifacts .raygate-lab .mutation
