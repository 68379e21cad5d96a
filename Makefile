# COP — the two commands a new user needs are `make demo` and `make test`.
# Both install what they need (apt, Maven, Go modules, npm) and start the real services
# on 127.0.0.1 with scripts/services; state lives under .cop/.

SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 10s
# Tests use their own ClickHouse database, so the demo never shows test data.
SERVICES_ENV = eval "$$(scripts/services env)" && export COP_CH_DATABASE=$${COP_CH_DATABASE:-cop_test}

.PHONY: demo test test-unit test-integration test-faults test-browser fuzz-short lint bench build services-start services-stop vendor-check deploy-check

build:
	$(GO) build -o cop ./cmd/cop

demo: build
	./cop demo

services-start:
	scripts/services start

services-stop:
	scripts/services stop

# test: unit tests, integration tests on real Kafka and ClickHouse, short fuzzing of every
# parser, the vendored UI check and the browser tests in headless Chromium.
test: lint deploy-check services-start test-integration fuzz-short vendor-check test-browser test-faults
	@echo "make test: all green"

test-unit:
	$(GO) test -count=1 ./...

test-integration:
	$(SERVICES_ENV) && COP_REQUIRE_SERVICES=1 $(GO) test -count=1 -timeout 20m ./...

# test-faults: kill -9, Kafka and ClickHouse outages, hostile input (cmd/cop/fault_*_test.go).
# They stop and start the shared services, so they run last and alone, never in ./... .
test-faults: services-start
	$(SERVICES_ENV) && COP_FAULTS=1 COP_REQUIRE_SERVICES=1 $(GO) test -count=1 -p 1 -run 'Fault' -timeout 15m ./cmd/cop/

# fuzz-short: every fuzz target for FUZZTIME. Each new interesting input is minimised for at
# most 100 runs: by default Go minimises for up to 60 s each, which on 5 KB MISP seeds took
# nearly all of a 10 s budget (11 executions in CI; ~20,000/s with the bound).
FUZZ = $(GO) test -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 100x -fuzz
fuzz-short:
	$(FUZZ) '^FuzzParse$$' ./ingest/stix
	$(FUZZ) '^FuzzPattern$$' ./ingest/stix
	$(FUZZ) '^FuzzParse$$' ./ingest/misp
	$(FUZZ) '^FuzzParse$$' ./ingest/native
	$(FUZZ) '^FuzzEngine$$' ./correlate
	$(FUZZ) '^FuzzEventJSON$$' ./internal/event

vendor-check:
	scripts/vendor-ui --check

# deploy-check: the compose file and Kubernetes manifests against their schemas, with no
# Docker engine or cluster (deploy/README.md says what is and is not checked).
deploy-check:
	deploy/validate

test-browser:
	$(SERVICES_ENV) && ui/test/run.sh

# lint: gofmt, go vet, staticcheck (fetched by the Go toolchain at a pinned version) and a
# go.mod that `go mod tidy` would not change.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out="$$(gofmt -l .)"; if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1s -count 1 ./correlate ./ingest/...
	$(GO) run ./cmd/cop bench correlate --live 100000,1000000
