#!/usr/bin/env bash
# The performance benchmark (`make bench`):
#   system tools -> Kafka jars -> Redis + Kafka up -> cmd/clienting-bench -> down.
#
# Usage: scripts/bench.sh [clienting-bench flags]
#   e.g. scripts/bench.sh --events 200000 --customers 20000 --skip-micro
#        scripts/bench.sh --baseline f7da30b     (also run the clienting of
#                                                 that revision end to end,
#                                                 first, on the same events;
#                                                 both printed side by side)
#        scripts/bench.sh --profile-dir /tmp/prof   (CPU and allocation profiles
#                                                     of the end-to-end run)
#
# cmd/clienting-bench measures the servers' ceilings, runs the clienting
# binary end to end and at half its capacity for latency, measures the CPU
# of clienting, Redis and the broker (its pid is passed as --kafka-pid),
# Redis memory per customer, runs the hot path's Go micro-benchmarks, and
# prints one table with the State v2 issue's targets. --baseline REV builds
# REV's clienting in a temporary git worktree (removed afterwards). About
# five minutes on a 2-core machine with the defaults, a few more with a
# baseline.
#
# The servers are our own (their own HARNESS_RUN_DIR) and are stopped however
# the run ends; the exit code is the benchmark's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/deps.sh
scripts/kafka-fetch.sh >/dev/null

# Compile before the servers start, so that the build does not compete with
# them for the cores.
bin="$(mktemp -d)"
go build -o "$bin/clienting-bench" ./cmd/clienting-bench

export HARNESS_RUN_DIR="$root/.run/bench-$$"

status=1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	scripts/harness.sh down || true
	if ((status == 0)); then
		rm -rf "$HARNESS_RUN_DIR"
	fi
	rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/harness.sh up >/dev/null
eval "$(scripts/harness.sh env)"

status=0
"$bin/clienting-bench" --kafka-pid "$(cat "$HARNESS_RUN_DIR/kafka.pid")" "$@" || status=$?
if ((status != 0)); then
	echo "bench: clienting-bench exited $status; server logs are in ${HARNESS_RUN_DIR#"$root/"}/logs/" >&2
fi
exit "$status"
