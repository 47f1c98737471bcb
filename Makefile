# recstack — the two commands of the quick start are `make up` and `make test`.
# Run as root on Debian 12 / Ubuntu 22.04+ (the roles install system packages).

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The Pulumi program, its policy pack and their tests (pulumi-policy needs protobuf 5).
PULUMI_VENV := .venv-pulumi
ENV ?= local
# The system interpreter: the serving hosts' Triton embeds the same libpython 3.11.
PYTHON ?= /usr/bin/python3

.PHONY: help up down status test lint unit cloud-test smoke integration idempotence testbed rehearsal bench venv constraints clean

help:
	@echo "make up      deploy the local environment and show recommendations"
	@echo "make test    lint, unit and cloud tests, deploy, smoke tests, idempotence, teardown"
	@echo "make down    stop the local environment (data is kept)"
	@echo "make testbed the multi-host testbed end to end (built and removed again)"
	@echo "make rehearsal the staging and prod stacks' own variables deployed on the testbed"
	@echo "make bench   latency/throughput benchmarks -> benchmarks/results/"

$(BIN)/recstack: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null && $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-dev)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $@

venv: $(BIN)/recstack

# The project itself goes in too, without its dependencies (the Pulumi program, the policy
# pack and their tests import recstack_contract, the cost cross-check recstack).
$(PULUMI_VENV)/bin/pytest: stacks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(PULUMI_VENV)
	$(PULUMI_VENV)/bin/pip install --quiet --upgrade pip
	$(PULUMI_VENV)/bin/pip install --quiet --requirement stacks/requirements.txt
	$(PULUMI_VENV)/bin/pip install --quiet --no-deps --editable .
	@touch $@

up: venv
	$(BIN)/recstack up $(ENV)

down: venv
	$(BIN)/recstack down $(ENV)

status: venv
	$(BIN)/recstack status $(ENV)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --profile production

# The Pulumi environment too: some tests take a stack's outputs from the program under mocks.
unit: venv $(PULUMI_VENV)/bin/pytest
	$(BIN)/pytest tests -m "not deployed and not after_down and not broker_restart and not testbed and not testbed_deployed" -q

# The AWS stacks under Pulumi mocks, and the policy pack; no AWS account is involved.
cloud-test: $(PULUMI_VENV)/bin/pytest
	$(PULUMI_VENV)/bin/pytest stacks/tests policy/tests -q

smoke: venv
	$(BIN)/recstack smoke $(ENV)

integration: venv
	$(BIN)/pytest tests -m deployed -q

idempotence: venv
	$(BIN)/recstack up $(ENV) --expect-no-changes

# The multi-host testbed, end to end: namespace isolation, a deployment over SSH (Redis
# cluster with ACL, broker, two Triton hosts), its smoke tests, a Redis master killed
# under load, a redeployment that must change nothing, and a teardown that leaves
# nothing behind. The testbed comes down even when a step fails.
testbed: venv
	@set -e; trap '$(BIN)/recstack testbed down' EXIT; \
	$(BIN)/pytest tests -m testbed -q; \
	$(BIN)/recstack testbed up; \
	$(BIN)/recstack up testbed; \
	$(BIN)/recstack smoke testbed; \
	$(BIN)/pytest tests -m testbed_deployed -q -s; \
	$(BIN)/recstack up testbed --expect-no-changes; \
	$(BIN)/recstack testbed down; \
	$(BIN)/python -c 'from recstack import testbed; left = testbed.leftovers(); assert not left, left'

# Each committed cloud stack's own `inventory` output (the Pulumi program under mocks)
# bound to fresh testbed hosts, with stand-ins for the managed services
# (recstack/rehearsal): a deployment, its smoke tests, a second run that must change
# nothing, and a teardown. The testbed comes down even when a step fails.
rehearsal: venv $(PULUMI_VENV)/bin/pytest
	@set -e; trap '$(BIN)/recstack testbed down' EXIT; \
	for stack in staging prod; do \
		$(BIN)/recstack testbed up; \
		$(BIN)/recstack up rehearsal-$$stack; \
		$(BIN)/recstack smoke rehearsal-$$stack; \
		$(BIN)/recstack up rehearsal-$$stack --expect-no-changes; \
		$(BIN)/recstack testbed down; \
	done

# The whole proof: static checks and unit tests, then a real deployment that must pass
# the smoke and integration tests, redeploy with zero changes, and tear down cleanly.
# An environment that was up before `make test` is brought back up afterwards.
test: venv
	@was_up=$$(test -f .recstack/$(ENV)/endpoints.json && echo yes || echo no); \
	set -e; \
	$(MAKE) --no-print-directory lint unit cloud-test; \
	$(BIN)/recstack up $(ENV); \
	$(MAKE) --no-print-directory smoke integration idempotence; \
	$(BIN)/pytest tests -m broker_restart -q; \
	$(BIN)/recstack down $(ENV); \
	$(BIN)/pytest tests -m after_down -q; \
	$(MAKE) --no-print-directory testbed; \
	$(MAKE) --no-print-directory rehearsal; \
	if [ "$$was_up" = yes ]; then $(BIN)/recstack up $(ENV); fi

bench: venv
	$(BIN)/python -m benchmarks.run --env $(ENV)
	$(BIN)/python -m benchmarks.quality
	$(BIN)/python -m benchmarks.hps

# Re-pin after changing dependencies in pyproject.toml.
constraints:
	rm -rf /tmp/recstack-pin && $(PYTHON) -m venv /tmp/recstack-pin
	/tmp/recstack-pin/bin/pip install --quiet '.[dev]'
	/tmp/recstack-pin/bin/pip freeze --exclude recstack | sed 's/+cpu$$//' > constraints.txt.new
	@echo "review constraints.txt.new (keep the header comments) and move it over constraints.txt"

clean:
	rm -rf $(VENV) $(PULUMI_VENV) .recstack
