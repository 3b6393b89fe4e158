# The two commands (see README): `make run` starts everything, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint clean deploy-test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tongdai run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest -n 2 --dist loadfile --durations=10

# The compose stack built and exercised for real (tests/deploy): Docker and Compose are installed
# and dockerd started when missing (scripts/docker-provision.sh); needs root.
deploy-test: $(STAMP)
	bash scripts/docker-provision.sh engine
	TONGDAI_DEPLOY_TEST=1 $(BIN)/pytest -p no:xdist -p no:cacheprovider tests/deploy -v --durations=0

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
