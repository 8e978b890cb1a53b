# enmasse — run `make help` for the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
PKG      := github.com/enmasse-go/enmasse
VERSION  ?= 0.1.0-dev
COMMIT   ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || c="$$c-dirty"; echo "$$c"; } || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.version=$(VERSION) -X $(PKG)/internal/version.commit=$(COMMIT)
FUZZTIME ?= 30s
ARGS     ?=

# Test dependencies from Debian: Qpid Proton's Python binding (interop
# tests) and the mosquitto clients. Debian's binding lives in
# /usr/lib/python3/dist-packages, so only /usr/bin/python3 sees it.
TEST_APT_PACKAGES := python3-qpid-proton mosquitto-clients
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help build serve test test-deps fmt-check vet fuzz bench bench-suite benchstat

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/enmasse (static, with version and commit)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/enmasse ./cmd/enmasse

serve: build ## build, then run `enmasse serve` on the embedded defaults (extra flags: ARGS=...)
	./bin/enmasse serve $(ARGS)

test: test-deps fmt-check vet ## the whole suite: deps, gofmt, vet, go test -race
	$(GO) test -race -count=1 -timeout 15m ./...

test-deps: ## install what the tests need (apt; sudo when not root)
	@if /usr/bin/python3 -c 'import proton' 2>/dev/null && command -v mosquitto_pub >/dev/null; then \
		echo "test-deps: already installed"; \
	else \
		echo "test-deps: installing $(TEST_APT_PACKAGES)"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES); \
	fi

fmt-check: ## fail if any file needs gofmt
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

fuzz: ## run every Fuzz target in turn for FUZZTIME (default 30s)
	@targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ {names[++n] = $$1; next} /^ok/ {for (i = 1; i <= n; i++) print $$2 " " names[i]; n = 0}'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets"; exit 0; fi; \
	while read -r pkg name; do \
		echo "== $$pkg $$name"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

bench: ## run the benchmarks of internal/...
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

bench-suite: ## enmasse against Mosquitto, RabbitMQ, NATS, ActiveMQ, Proton (installs and starts them; <15 min; writes docs/benchmarks.md)
	bench/suite.sh

BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

benchstat: ## compare two `go test -bench` outputs: make benchstat OLD=old.txt NEW=new.txt
	$(GO) run $(BENCHSTAT) $(OLD) $(NEW)
