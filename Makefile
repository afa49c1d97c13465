# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast bootstrap docs bench fidelity mutation clean

# The demo needs only the package itself; the test suite also needs Ray, Playwright & co.
$(BIN)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.test: pyproject.toml $(BIN)/.base
	$(BIN)/pip install -q -e '.[test,ray,operator]'
	touch $@

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
	$(BIN)/pip install -q mutmut
	PYTHON=$(BIN)/python bash scripts/mutation.sh $(MUTATION)

docs: $(BIN)/.base
	$(BIN)/raygate rules --format markdown > docs/rules.md

bench: $(BIN)/.test
	$(BIN)/python bench/lint_vs_checkov.py

# Right about real setups (thread corpus, ingress-nginx cases, lint speed): docs/fidelity.md.
fidelity: $(BIN)/.test
	$(BIN)/python bench/fidelity.py --check

clean:
	rm -rf $(VENV) build dist src/*.egg-info artifacts .raygate-lab .mutation
