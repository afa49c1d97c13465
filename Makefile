# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast bootstrap docs bench clean

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

docs: $(BIN)/.base
	$(BIN)/raygate rules -o markdown > docs/rules.md

bench: $(BIN)/.test
	$(BIN)/python bench/lint_vs_checkov.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info artifacts .raygate-lab
