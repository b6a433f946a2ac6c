# promolift: build, test and benchmark.
#
#   make test    every test, on SQLite and on a throw-away PostgreSQL cluster
#                that this target starts and removes (PostgreSQL 15 binaries are
#                installed with apt when missing; so is Chromium for the
#                browser test)
#   make bench   benchmarks against the anchors; writes docs/performance.md
#   make fuzz    long fuzz runs (FUZZTIME each, default 10m)
#   make coverage  Monte Carlo coverage of the stats intervals (COVERAGE_REPS
#                simulated experiments each, default 10000; 94-96% asked)
#   make lint    gofmt, go vet, staticcheck
#   make test-policy-sim  the policy simulator at full size: 200 simulated
#                tests through the API (about 15 minutes) and 2000 Monte
#                Carlo runs of the estimators

GO        ?= go
SHELL     := /bin/bash
.SHELLFLAGS := -o pipefail -c
FUZZTIME  ?= 10m
COVERAGE_REPS ?= 10000
PGDIR     := $(shell mktemp -u -d 2>/dev/null || echo /tmp/promolift-pg-$$$$)

.PHONY: all build test test-go deps-test lint fuzz coverage bench clean test-policy-sim

all: build

build:
	$(GO) build ./...

# test starts a throw-away PostgreSQL unless PROMOLIFT_TEST_DATABASE_URL is
# already set, runs every test with it, and removes the cluster afterwards
# whatever the outcome.
test: deps-test
	@set -e; \
	if [ -n "$$PROMOLIFT_TEST_DATABASE_URL" ]; then \
		echo "make test: using PROMOLIFT_TEST_DATABASE_URL from the environment"; \
		$(MAKE) --no-print-directory test-go; \
	else \
		url=$$(.ci/pg.sh start $(PGDIR)); \
		trap '.ci/pg.sh stop $(PGDIR)' EXIT; \
		echo "make test: throw-away PostgreSQL at $$url"; \
		PROMOLIFT_TEST_DATABASE_URL=$$url $(MAKE) --no-print-directory test-go; \
	fi

# deps-test installs what the tests need and this machine may lack:
# Chromium (Debian's package) for the HTML report's browser test.
deps-test:
	@.ci/deps.sh

# The short fuzz runs are bounded by a count of executions, not a time:
# a time limit can end while the fuzzer minimizes a new input, which go
# test reports as a failure ("context deadline exceeded").
test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m -json ./... | $(GO) run .ci/testsummary.go
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzParseCondition$$' -fuzztime 100000x ./assign
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzDecodeSpec$$' -fuzztime 50000x ./assign
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime 20000x ./stats
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzEventsBatch$$' -fuzztime 3000x ./experiments/httpapi
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzOFREPRequest$$' -fuzztime 2000x ./experiments/httpapi

test-policy-sim:
	PROMOLIFT_POLICY_RUNS=2000 $(GO) test -count=1 -timeout 30m -run 'MonteCarlo' -v ./stats/policy
	PROMOLIFT_POLICY_SIM_RUNS=200 $(GO) test -count=1 -timeout 60m -run '^TestPolicyLoop$$' -v ./experiments/httpapi

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2026.2.2 ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseCondition$$' -fuzztime $(FUZZTIME) ./assign
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSpec$$' -fuzztime $(FUZZTIME) ./assign
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME) ./stats
	$(GO) test -run '^$$' -fuzz '^FuzzEventsBatch$$' -fuzztime $(FUZZTIME) ./experiments/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzOFREPRequest$$' -fuzztime $(FUZZTIME) ./experiments/httpapi

# coverage runs stats' TestCoverage with COVERAGE_REPS (>= 4000) simulated
# experiments per interval and the band 94-96% (make test runs it with 500
# and a wider band).
coverage:
	PROMOLIFT_COVERAGE_REPS=$(COVERAGE_REPS) $(GO) test -count=1 -timeout 60m -run '^TestCoverage$$' -v ./stats

# bench runs the benchmarks of module bench/ against their anchors (with a
# throw-away PostgreSQL unless PROMOLIFT_TEST_DATABASE_URL is set), then the
# 5-minute steady-load memory run of a real promolift serve, and writes
# docs/performance.md; it prints each stage's time and should take under
# 10 minutes.
bench:
	@set -e; start=$$(date +%s); \
	if [ -n "$$PROMOLIFT_TEST_DATABASE_URL" ]; then \
		echo "make bench: using PROMOLIFT_TEST_DATABASE_URL from the environment"; \
		(cd bench && $(GO) run ./cmd/perfdoc -out ../docs/performance.md); \
	else \
		url=$$(.ci/pg.sh start $(PGDIR)); \
		trap '.ci/pg.sh stop $(PGDIR)' EXIT; \
		echo "make bench: throw-away PostgreSQL at $$url (started in $$(( $$(date +%s) - start ))s)"; \
		(cd bench && PROMOLIFT_TEST_DATABASE_URL=$$url $(GO) run ./cmd/perfdoc -out ../docs/performance.md); \
	fi; \
	echo "make bench: took $$(( $$(date +%s) - start ))s in all"

clean:
	rm -f promolift.db promolift.db-wal promolift.db-shm
