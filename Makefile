# Cachalot: the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/cachalot
# Debian packages Cachalot runs with: engines, kernel tooling, the AWS CLI v2;
# dnsutils (dig, host) for the resolver's client tests.
DEBIAN_PACKAGES := redis-server redis-tools memcached libmemcached-tools nftables iproute2 iptables awscli dnsutils
GOFLAGS_TEST ?= -race -timeout 30m

.PHONY: run build deps test vet fmt-check generate-check bench crash print-packages differential fuzz restore-100k

## run: install what is missing, build, and start the service in the foreground
run: deps build
	./$(BIN) serve

## build: build bin/cachalot
build:
	$(GO) build -o $(BIN) ./cmd/cachalot

## deps: install the Debian packages Cachalot uses, when missing (needs root)
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages:$$missing (run 'sudo make deps')"; exit 1; fi; \
	fi

print-packages:
	@echo $(DEBIAN_PACKAGES)

## test: the whole suite, exactly what CI runs
test: fmt-check vet generate-check
	$(GO) test $(GOFLAGS_TEST) -json ./... | $(GO) run ./tools/testreport

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## generate-check: regenerating the API packages from api/models leaves no diff
generate-check:
	$(GO) generate ./internal/api/...
	@git diff --exit-code -- internal/api && test -z "$$(git status --porcelain -- internal/api)" || \
	  (git status --short -- internal/api; echo "generated code is stale: run 'go generate ./internal/api/...' and commit"; exit 1)

## restore-100k: the snapshot restore tests at the issue's size (100,000 keys of every
## type; CI runs the re-slotting ones with 20,000)
restore-100k:
	CACHALOT_RESLOT_KEYS=100000 $(GO) test $(GOFLAGS_TEST) -count=1 -v \
	  -run '^(TestSnapshotRestore|TestSnapshotReslotRestore|TestReslotRestoreSurvivesRestart)$$' ./internal/elasticache/

## differential: the kernel-vs-evaluator differential test at scale (root; not in
## CI, which runs a slice of 60): DIFF_CONFIGS random configurations, from DIFF_SEED
## if set (else from the clock; the seed is printed)
DIFF_CONFIGS ?= 500
differential:
	$(GO) test -count=1 -timeout 4h -run '^TestNetplaneDifferential$$' -v ./internal/app/ \
	  -args -differential.configs=$(DIFF_CONFIGS) $(if $(DIFF_SEED),-differential.seed=$(DIFF_SEED))

## fuzz: every fuzz target for FUZZTIME (default 1000000x: 10^6 executions each), printing the
## executions of each; not part of test (which replays the committed corpora in testdata/fuzz)
FUZZTIME ?= 1000000x
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./tools/fuzz.sh

## bench: control-plane figures side by side with moto_server
bench: build
	$(GO) run ./bench/api

## bench-capacity: idle Redis nodes actually started (root): N single-node clusters through the
## API (default 100), then memory, idle CPU, a restart, API latency and deletion (bench/capacity);
## the Markdown report goes to stdout, progress to stderr; CAPACITYFLAGS adds flags (e.g. -cold)
N ?= 100
.PHONY: bench-capacity
bench-capacity: build
	$(GO) run ./bench/capacity -cachalot $(BIN) -n $(N) $(CAPACITYFLAGS)

## crash: the crash campaign (root): kill -9 of serve under a random workload, 20 runs, 1,000 writes
crash: build
	$(GO) run ./bench/crash -cachalot $(BIN) $(CRASHFLAGS)
