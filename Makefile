# The two commands of the README:
#   make        fetch the pinned sources, index them, build the site into public/
#   make test   run the test suite (CI runs exactly this through .ci/run)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.package-lock.json
ORACLE_STAMP := .oracle-venv/.infernav-oracle.json
export NO_MKDOCS_2_WARNING := 1
# The package's bytecode, written once: an editable install leaves it to the first import, which
# never writes it where PYTHONDONTWRITEBYTECODE is set, so every CLI call would compile all it
# imports again (~60 ms of a ~150 ms query). Python still checks each file's mtime and recompiles
# in memory what changed since.
COMPILE := $(BIN)/python -m compileall -q analyzer annotations reimpl kernels >/dev/null

.PHONY: all site serve test bench clean
all: $(STAMP) $(NPM_STAMP)
	$(COMPILE)
	$(BIN)/infernav fetch --all
	$(BIN)/infernav index --all
	$(BIN)/mkdocs build -q
	@echo "site built in public/ (open public/index.html, or: make serve)"

site: $(STAMP) $(NPM_STAMP)
	$(BIN)/mkdocs build -q

serve: $(STAMP) $(NPM_STAMP)
	$(BIN)/mkdocs serve

# Where a checkout sits beside ../shared (CI, developers' machines without GitHub), the pinned
# KsanaLLM snapshot is fetched from there (sha256-checked against pins.toml); the product itself
# never looks for ../shared.
KSANA_SNAPSHOT := ../shared/upstream/ksanallm-c451219c.tar.gz

test: $(STAMP) $(NPM_STAMP) $(ORACLE_STAMP)
	bash .ci/ensure-chromium
	@if [ -f $(KSANA_SNAPSHOT) ]; then $(BIN)/infernav fetch ksanallm --path $(KSANA_SNAPSHOT); \
	else echo "note: no $(KSANA_SNAPSHOT): KsanaLLM tests skip unless its source was fetched"; fi
	$(BIN)/python -m pytest -q

bench: $(STAMP) $(NPM_STAMP)
	$(BIN)/python bench/index_bench.py
	$(BIN)/python bench/site_bench.py

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	$(COMPILE)
	touch $@

# The prefix-cache oracle's own venv: the real vLLM 0.14.1 (from its sdist) + torch (CPU wheel).
# build_venv.py is idempotent (its stamp fingerprints its inputs). A failed build does not stop
# the suite: the oracle tests then fail, saying why.
$(ORACLE_STAMP): $(STAMP) constraints.txt tests/oracle/build_venv.py tests/oracle/requirements.txt $(wildcard tests/oracle/cpu_platform/*)
	-$(BIN)/python tests/oracle/build_venv.py

# JavaScript the site ships (Mermaid, Cytoscape): from the npm registry at the locked versions.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) node_modules public .pytest_cache
