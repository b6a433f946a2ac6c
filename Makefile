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
#   make check-values  rerun the independent scripts of the golden files'
#                check values and fail when they differ from the committed
#                ones (part of make test)
#   make dist    release binaries for linux, darwin and windows (amd64, arm64)
#   make test-bandit-sim  the bandit simulation at full size: 1000 unpaced
#                and 60 paced simulated bandit experiments through the
#                service (the default test runs 200 and 12)
#   make test-policy-sim  the policy simulator at full size: 1000 simulated
#                tests through the API (12,000 units each; two shards in
#                parallel, about 5 s a test on a busy 2-core machine;
#                POLICY_SIM_PARALLEL sets the shards), then 2000 Monte
#                Carlo runs of the estimators (the budget test's CIs use
#                a bootstrap of the whole procedure, 200 replicates a
#                run: about a minute more; see stats/policy/doc.go)

GO        ?= go
SHELL     := /bin/bash
.SHELLFLAGS := -o pipefail -c
FUZZTIME  ?= 10m
COVERAGE_REPS ?= 10000
POLICY_SIM_PARALLEL ?= 2
PGDIR     := $(shell mktemp -u -d 2>/dev/null || echo /tmp/promolift-pg-$$$$)

.PHONY: all build dist test test-go deps-test lint fuzz coverage bench clean test-policy-sim test-bandit-sim check-values

all: build

build:
	$(GO) build ./...

# dist builds the release binaries into dist/: static (CGO_ENABLED=0, the
# SQLite driver is pure Go), reproducible paths (-trimpath), stripped, and
# stamped with VERSION (promolift version prints it), plus SHA256SUMS.
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

dist:
	@set -e; rm -rf dist; mkdir -p dist; \
	for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; if [ "$$os" = windows ]; then ext=.exe; fi; \
		out=dist/promolift-$(VERSION)-$$os-$$arch$$ext; \
		echo "make dist: $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags nomsgpack \
			-ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/promolift; \
	done; \
	cd dist && sha256sum promolift-* > SHA256SUMS

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
# test reports as a failure ("context deadline exceeded"). FUZZ_TARGETS
# names every fuzz target as package:Name; .ci/fuzztargets.sh checks that
# the list matches the func Fuzz... of the tests, so a new target cannot be
# left out. The bench module (bench/, its own go.mod) runs its tests in
# quick mode (-short: no 15-second load run), including the check of our
# assignment against GrowthBook's own Go SDK.
FUZZ_TARGETS := ./assign:FuzzParseCondition:100000 ./assign:FuzzDecodeSpec:50000 \
	./stats:FuzzAnalyze:20000 ./experiments/httpapi:FuzzEventsBatch:3000 \
	./experiments/httpapi:FuzzOFREPRequest:2000 ./experiments/httpapi:FuzzValidJSON:20000 \
	./experiments/httpapi:FuzzScanJSON:20000 ./experiments/httpapi:FuzzDecodeEventBatch:5000

test-go: check-values
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m -json ./... | $(GO) run .ci/testsummary.go
	cd bench && $(GO) vet ./... && $(GO) test -count=1 -short -timeout 10m ./...
	@.ci/fuzztargets.sh $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg name n <<< "$$t"; \
		echo "fuzz $$pkg $$name ($$n runs)"; \
		$(GO) test -count=1 -run '^$$' -fuzz "^$$name\$$" -fuzztime $${n}x $$pkg; \
	done

# check-values reruns the scripts that compute, independently of the code
# under test, the check values of the golden files (TestReportGoldenChecks,
# TestDesignGoldenChecks, the policy estimators') with Debian's python3-mpmath,
# -numpy and -scipy (.ci/deps.sh installs them), and fails when the
# committed check files are not what the scripts write: a script changed
# without its output, or the output edited by hand.
CHECK_VALUES := experiments/httpapi/testdata/check_report_golden.py:experiments/httpapi/testdata/report-spring-sale.checks.json \
	stats/testdata/check_design_golden.py:stats/testdata/design_example.checks.json \
	stats/policy/testdata/gen_checks.py:stats/policy/testdata/checks.json \
	stats/policy/testdata/gen_bootstrap.py:stats/policy/testdata/bootstrap.checks.json

check-values:
	@set -e; for c in $(CHECK_VALUES); do \
		script=$${c%%:*}; out=$${c#*:}; \
		echo "check-values: $$script"; \
		/usr/bin/python3 $$script | diff -q - $$out >/dev/null || { echo "$$out is not the output of $$script (regenerate: /usr/bin/python3 $$script > $$out)"; exit 1; }; \
	done

test-bandit-sim:
	PROMOLIFT_BANDIT_SIM_RUNS=1000 PROMOLIFT_BANDIT_SIM_PACED=60 $(GO) test -count=1 -timeout 60m -run '^TestBanditSimulation$$' -v ./experiments

test-policy-sim:
	PROMOLIFT_POLICY_SIM_RUNS=1000 PROMOLIFT_POLICY_SIM_PARALLEL=$(POLICY_SIM_PARALLEL) $(GO) test -count=1 -timeout 240m \
		-parallel $(POLICY_SIM_PARALLEL) -run '^TestPolicyLoop$$' -v ./experiments/httpapi
	PROMOLIFT_POLICY_RUNS=2000 $(GO) test -count=1 -timeout 30m -run 'MonteCarlo' -v ./stats/policy

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fuzz:
	@.ci/fuzztargets.sh $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg name n <<< "$$t"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# coverage runs stats' TestCoverage with COVERAGE_REPS (>= 4000) simulated
# experiments per interval and the band 94-96% (make test runs it with 500
# and a wider band).
coverage:
	PROMOLIFT_COVERAGE_REPS=$(COVERAGE_REPS) $(GO) test -count=1 -timeout 60m -run '^TestCoverage$$' -v ./stats

# bench runs the benchmarks of module bench/ against their anchors (with a
# throw-away PostgreSQL unless PROMOLIFT_TEST_DATABASE_URL is set), then the
# 5-minute steady-load memory run of a real promolift serve, and writes
# docs/performance.md; it prints each stage's time and takes about 17
# minutes on two cores (the serving benchmark runs five times).
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
	rm -rf dist
