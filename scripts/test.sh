#!/usr/bin/env bash
# The full test run, as CI does it (`make test`, .ci/run):
#   system tools -> Kafka jars -> Redis, Redis Cluster + Kafka up ->
#   go test -race ./... -> the state and processor suites, crash recovery and
#   history import again on the Redis Cluster (CLIENTING_TEST_REDIS_CLUSTER=1)
#   -> down.
#
# Usage: scripts/test.sh [go test arguments]   (default: ./...)
#
# The servers are stopped however the run ends, and the exit code is the one
# of go test (or of the step that failed before it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/deps.sh
scripts/kafka-fetch.sh >/dev/null
# Alert rules (promtool check/test rules), dashboard and manifests.
scripts/check-deploy.sh

# Servers of our own, in a state directory of our own: a `make up` of the same
# checkout (or another `make test`) keeps its servers.
export HARNESS_RUN_DIR="$root/.run/test-$$"

# Stop the servers however we exit; keep their logs only when something
# failed. Bash runs the EXIT trap on normal exit and on `exit` from a signal
# trap, but not when killed by an untrapped signal: turn INT/TERM into exits.
status=1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	scripts/harness.sh down || true
	if ((status == 0)); then
		rm -rf "$HARNESS_RUN_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/harness.sh up
eval "$(scripts/harness.sh env)"
# Missing servers fail tests instead of skipping them (internal/testenv).
export CLIENTING_INTEGRATION=1

status=0
if (($# == 0)); then
	go test -race -count=1 ./... || status=$?
	# the state and processor suites once more on the 3-master Redis Cluster
	if ((status == 0)); then
		echo "test: the state and processor suites, crash recovery and history import on the Redis Cluster" >&2
		CLIENTING_TEST_REDIS_CLUSTER=1 go test -race -count=1 ./state/ ./processor/ || status=$?
		# and the processor binary's crash recovery and history import
		if ((status == 0)); then
			CLIENTING_TEST_REDIS_CLUSTER=1 go test -race -count=1 \
				-run 'TestCrashRecovery|TestLoadTwiceChangesNothing|TestKcatInterop' ./cmd/clienting/ || status=$?
		fi
	fi
else
	go test -race -count=1 "$@" || status=$?
fi
if ((status != 0)); then
	echo "test: go test exited $status; server logs are in ${HARNESS_RUN_DIR#"$root/"}/logs/" >&2
fi
exit "$status"
