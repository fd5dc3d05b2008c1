# Developer entry points. CI runs `make test` (.ci/run).
#
#   make test        everything, against real Redis and Kafka (started and
#                    stopped around the run by scripts/test.sh)
#   make test-unit   go test -race without servers: integration tests skip
#   make up / down   keep the servers running while you iterate; then
#                    eval "$$(scripts/harness.sh env)" and go test as usual

SHELL := /bin/bash
GO ?= go
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: deps kafka-fetch up down status test test-unit lint fmt build demo bench check-deploy docker compose-up compose-load compose-down

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

deps:
	scripts/deps.sh

kafka-fetch:
	scripts/kafka-fetch.sh

up: deps
	scripts/harness.sh up

down:
	scripts/harness.sh down

status:
	scripts/harness.sh status

test:
	scripts/test.sh

# The variables that point tests at servers, or demand them, are cleared so
# that integration tests skip (or use Docker, where there is one).
test-unit:
	env -u CI -u CLIENTING_INTEGRATION -u CLIENTING_TEST_REDIS_ADDR -u CLIENTING_TEST_REDIS_CLUSTER_ADDRS -u CLIENTING_TEST_REDIS_CLUSTER -u CLIENTING_TEST_KAFKA_BROKERS \
		$(GO) test -race ./...

# golangci-lint is built from the Go module proxy on first use (a few
# minutes), then cached by the Go build cache.
lint:
	@unformatted="$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

fmt:
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go')
	$(GOLANGCI_LINT) fmt ./...

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/clienting ./cmd/clienting

# promtool checks and unit tests of the alerts, dashboard and manifest checks
check-deploy:
	scripts/check-deploy.sh

docker:
	docker build --build-arg VERSION=$(VERSION) -t clienting:$(VERSION) .

# Kafka, Redis, clienting, Prometheus and Grafana on this machine (Docker)
compose-up:
	docker compose up -d --build

compose-load:
	docker compose --profile load up -d --build

compose-down:
	docker compose --profile load down -v

demo:
	$(GO) run ./cmd/clienting demo

bench:
	@if [[ -x scripts/bench.sh ]]; then scripts/bench.sh; \
	else echo "make bench: scripts/bench.sh does not exist yet" >&2; exit 1; fi
