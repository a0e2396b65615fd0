# The two commands of the README:
#   make        fetch the pinned sources, index them (and, once the site exists, build it)
#   make test   run the test suite (CI runs exactly this through .ci/run)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all test bench clean
all: $(STAMP)
	$(BIN)/infernav fetch --all
	$(BIN)/infernav index --all

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/index_bench.py

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
