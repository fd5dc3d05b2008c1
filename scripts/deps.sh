#!/usr/bin/env bash
# Install the system tools the test harness needs, only those that are missing.
#
#   redis-server, redis-cli  Redis for integration tests (Debian: redis-server,
#                            redis-tools)
#   kcat                     Kafka metadata checks in harness.sh and tests
#   promtool                 metric and rule checks (Debian: prometheus)
#   java (17+), mvn          assembling and running the Kafka broker
#                            (scripts/kafka-fetch.sh)
#
# CI runs on a fresh Debian machine, so nothing here may assume a tool is
# present; on a developer machine that has everything this is a no-op and
# needs no network.
set -euo pipefail

# command -> Debian package that provides it.
declare -A packages=(
	[redis-server]=redis-server
	[redis-cli]=redis-tools
	[kcat]=kcat
	[promtool]=prometheus
	[java]=default-jdk-headless
	[mvn]=maven
	[python3]=python3
)

missing=()
for cmd in "${!packages[@]}"; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		missing+=("${packages[$cmd]}")
	fi
done
# PyYAML, for scripts/check-deploy.sh: a module, not a command.
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
	missing+=(python3-yaml)
fi

if ((${#missing[@]} > 0)); then
	echo "deps: installing ${missing[*]}" >&2
	sudo=""
	if [[ "$(id -u)" != 0 ]]; then
		sudo="sudo"
	fi
	# redis-server and prometheus come with init scripts that would start a
	# system Redis on 6379 and a Prometheus on 9090. We want neither (the
	# harness runs its own Redis on a free port), so, unless the machine
	# already has a policy (Docker-style images do), forbid service starts for
	# the duration of the install.
	policy=/usr/sbin/policy-rc.d
	own_policy=""
	if [[ ! -e "$policy" ]]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
		own_policy=1
	fi
	status=0
	$sudo apt-get update &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
		status=$?
	if [[ -n "$own_policy" ]]; then
		$sudo rm -f "$policy"
	fi
	if ((status != 0)); then
		echo "deps: apt-get failed (exit $status)" >&2
		exit "$status"
	fi
fi

# Kafka 4.x brokers need Java 17 or newer.
java_major="$(java -XshowSettings:properties -version 2>&1 |
	sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')"
if [[ -z "$java_major" || "$java_major" -lt 17 ]]; then
	echo "deps: java ${java_major:-unknown} found, Kafka 4.x needs 17 or newer" >&2
	exit 1
fi

mvn_version="$(mvn -v 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | awk '/^Apache Maven/ {print $3; exit}')"
redis_version="$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')"
echo "deps: ok (java $java_major, maven $mvn_version, redis $redis_version, kcat $(kcat -V 2>&1 | awk '/^Version/ {print $2; exit}'))" >&2
