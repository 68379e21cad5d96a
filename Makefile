# COP — the two commands a new user needs are `make demo` and `make test`.
# Both install what they need (apt, Maven, Go modules, npm) and start the real services
# on 127.0.0.1 with scripts/services; state lives under .cop/.

SHELL := /bin/bash
GO ?= go
# Tests use their own ClickHouse database, so the demo never shows test data.
SERVICES_ENV = eval "$$(scripts/services env)" && export COP_CH_DATABASE=$${COP_CH_DATABASE:-cop_test}

.PHONY: pyenv demo test test-unit test-integration test-current-clickhouse test-faults test-browser fuzz-short lint bench build services-start services-stop vendor-check deploy-check

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
test: lint deploy-check services-start pyenv test-integration test-current-clickhouse fuzz-short vendor-check test-browser test-faults
	@echo "make test: all green"

# pyenv: the Python reference clients the interoperability tests run (medallion,
# taxii2-client, stix2, stix2-validator, PyMISP), pinned, in .cop/venv; a no-op once made.
pyenv:
	scripts/pyenv

test-unit:
	$(GO) test -count=1 ./...

# The integration tests log each shape of SQL they send to ClickHouse (COP_SQL_LOG) for
# test-current-clickhouse.
SQL_LOG = $(CURDIR)/.cop/sql-shapes.jsonl
test-integration: pyenv
	mkdir -p .cop && rm -f $(SQL_LOG)
	$(SERVICES_ENV) && COP_SQL_LOG=$(SQL_LOG) COP_REQUIRE_SERVICES=1 $(GO) test -count=1 -timeout 20m ./...

# test-current-clickhouse: every migration and every SQL shape of the integration tests on
# ClickHouse 26.x (chdb-core, in process), as well as on the services' 18.16.
test-current-clickhouse:
	COP_SQL_LOG=$(SQL_LOG) scripts/current-clickhouse

# test-faults: kill -9, Kafka and ClickHouse outages, hostile input (cmd/cop/fault_*_test.go).
# They stop and start the shared services, so they run last and alone, never in ./... .
test-faults: services-start
	$(SERVICES_ENV) && COP_FAULTS=1 COP_REQUIRE_SERVICES=1 $(GO) test -count=1 -p 1 -run 'Fault' -timeout 15m ./cmd/cop/

# fuzz-short: every fuzz target for a number of executions (about 10 s each here; FUZZX
# scales them: FUZZX=10 for ten times more). Counts, not durations: with a duration, Go
# 1.26's coordinator can fail a target with "context deadline exceeded" when the time runs
# out while a worker is busy (go.dev/issue/75804, fixed in Go 1.27; seen here once, on
# FuzzEventJSON). Each new interesting input is minimised for at most 100 runs: by default
# Go minimises for up to 60 s each, which on 5 KB MISP seeds took nearly all of a 10 s
# budget (11 executions in CI; ~20,000/s with the bound).
FUZZX ?= 1
FUZZ = $(GO) test -run '^$$' -fuzzminimizetime 100x
fuzz-short:
	$(FUZZ) -fuzztime $$((100000*$(FUZZX)))x -fuzz '^FuzzParse$$' ./ingest/stix
	$(FUZZ) -fuzztime $$((200000*$(FUZZX)))x -fuzz '^FuzzPattern$$' ./ingest/stix
	$(FUZZ) -fuzztime $$((150000*$(FUZZX)))x -fuzz '^FuzzParse$$' ./ingest/misp
	$(FUZZ) -fuzztime $$((200000*$(FUZZX)))x -fuzz '^FuzzParse$$' ./ingest/native
	$(FUZZ) -fuzztime $$((20000*$(FUZZX)))x -fuzz '^FuzzEngine$$' ./correlate
	$(FUZZ) -fuzztime $$((100000*$(FUZZX)))x -fuzz '^FuzzEventJSON$$' ./internal/event
	$(FUZZ) -fuzztime $$((80000*$(FUZZX)))x -fuzz '^FuzzDecodeDelta$$' ./internal/picture

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
