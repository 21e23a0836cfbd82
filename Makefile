# Two commands on a fresh machine: `make run` and `make test` (see README).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= 127.0.0.1
RUN_STAMP  := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: run test lint format bench

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# the pinned requirements, then the project itself (editable: `.venv/bin/saliency`, imports)
INSTALL_SELF := $(PY) -m pip install -q --no-deps --no-build-isolation -e .

$(RUN_STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(INSTALL_SELF)
	touch $@

$(TEST_STAMP): requirements.txt requirements-dev.txt requirements-test.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(INSTALL_SELF)
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS)

test: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

format: $(TEST_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(RUN_STAMP)
	for b in benchmarks/[!_]*.py; do $(PY) $$b || exit 1; done
