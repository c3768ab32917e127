# The two commands a newcomer needs: `make up` (the whole stack on embedded defaults) and `make test`.
# Both install what they need first (scripts/bootstrap.sh; the first run on a machine takes minutes).
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen/python

.PHONY: up test bootstrap proto lint format bench clean

up: bootstrap
	$(PY) -m devstack up

test: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

bootstrap:
	@bash scripts/bootstrap.sh

# Regenerates Python stubs and Envoy's descriptor set from protos/ (tests fail when these are stale).
proto: bootstrap
	PYTHON=$(PY) bash scripts/gen_protos.sh

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy services
	.tools/bin/buf lint && .tools/bin/buf format -d --exit-code protos

format: bootstrap
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
	.tools/bin/buf format -w protos

bench: bootstrap
	$(PY) -m bench.authz_check
	$(PY) -m bench.inference_overhead
	$(PY) -m bench.gateway_overhead
	$(PY) -m bench.search_overhead
	$(PY) -m bench.responses_overhead

clean:
	rm -f .venv .tools
