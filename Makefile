# The two commands of the README:
#   make serve   start jobsvc with the example handlers (embedded PostgreSQL unless JOBSVC_DATABASE_URL is set)
#   make test    install everything the checks need, then run every check and the whole test suite
# Both create .venv on first use; nothing else has to be installed by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: serve test check system-deps generate bench reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.installed-* && touch $@

tools/node_modules/.bin/buf: tools/package.json
	cd tools && npm install --no-audit --no-fund --loglevel=error
	touch $@

serve: $(STAMP)
	$(BIN)/jobsvc serve --handlers jobsvc.examples $(ARGS)

check: $(STAMP) tools/node_modules/.bin/buf
	scripts/check

system-deps:
	scripts/system-deps

test: check system-deps
	scripts/test $(ARGS)

generate: $(STAMP)
	scripts/generate

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run $(ARGS)

# The long versions of the fault scenarios CI runs short: Patroni with the deploy files'
# 20 s ttl and with asynchronous replication, and a ten-minute soak (about 15 minutes).
reliability: $(STAMP) system-deps
	JOBSVC_PATRONI=1 JOBSVC_SOAK_SECONDS=600 scripts/test tests/faults/test_patroni.py tests/faults/test_soak.py $(ARGS)

clean:
	rm -rf $(VENV) tools/node_modules .mypy_cache .ruff_cache .pytest_cache
