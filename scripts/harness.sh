#!/usr/bin/env bash
# Local Redis, a Redis Cluster and Apache Kafka for integration tests and
# development.
#
# Usage: scripts/harness.sh up|down|env|status
#
#   up      start, on free loopback ports, a standalone redis-server, a
#           Redis Cluster of three masters (no replicas) and a single-node
#           KRaft Kafka, wait until all answer, write .run/env and print it.
#           When all are already up it only prints .run/env.
#   down    stop them (SIGTERM, then SIGKILL after a grace period) and delete
#           their data. Logs stay in .run/logs/ until the next `up`.
#   env     print .run/env (fails when the harness is not up).
#   status  say what runs where; exit 0 only when all servers answer.
#
# Every Redis server keeps an append-only file (appendfsync everysec, no RDB
# snapshots) in its data directory under .run/, as a production Redis would:
# a crash loses at most about the last second of writes.
#
# Use the env with:  eval "$(scripts/harness.sh env)"
# It sets CLIENTING_TEST_REDIS_ADDR (host:port),
# CLIENTING_TEST_REDIS_CLUSTER_ADDRS (the three masters, comma-separated
# host:port) and CLIENTING_TEST_KAFKA_BROKERS, which internal/testenv reads.
#
# Knobs (environment): HARNESS_RUN_DIR (state directory, default .run),
# HARNESS_TIMEOUT (seconds to wait for readiness, default 90), KAFKA_HEAP
# (JVM heap, default 512m), KAFKA_NUM_PARTITIONS (default partitions of a
# new topic, default 4), JAVA_HOME (which java).
#
# Everything lives under .run/ in the repository (git-ignored), so several
# clones on one machine do not collide; within one clone, a separate
# HARNESS_RUN_DIR gives a separate pair of servers (scripts/test.sh uses its
# own, so `make test` never stops the servers of a `make up`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="${HARNESS_RUN_DIR:-$root/.run}"
logs="$run/logs"
env_file="$run/env"

timeout="${HARNESS_TIMEOUT:-90}"
kafka_heap="${KAFKA_HEAP:-512m}"
kafka_partitions="${KAFKA_NUM_PARTITIONS:-4}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
deadline_ms=0 # set by cmd_up, read by await

# The Redis Cluster: this many masters, pid files redis-cluster-N.pid, data
# in $run/redis-cluster/N. Three is the fewest masters Redis Cluster takes.
cluster_size=3

log() { echo "harness: $*" >&2; }

# alive NAME PATTERN: the pid in $run/NAME.pid runs and its command line
# contains PATTERN (guards against a recycled pid after a reboot or crash).
alive() {
	local pidfile="$run/$1.pid" pid cmdline
	[[ -f "$pidfile" ]] || return 1
	pid="$(cat "$pidfile")"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
	[[ "$cmdline" == *"$2"* ]]
}

redis_ok() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# cluster_ok PORT: the cluster node at PORT serves all slots. A node reports
# cluster_state:ok only once every slot has a master it can reach.
cluster_ok() {
	[[ "$(redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null)" == *cluster_state:ok* ]]
}

# start_redis NAME PORT DIR [ARGS...]: start redis-server on 127.0.0.1:PORT
# with its data in DIR and ARGS appended, in the foreground of a background
# job so that we own its pid (written to $run/NAME.pid); it logs to stdout,
# which goes to $logs/NAME.log. Persistence is an append-only file fsynced
# every second; RDB snapshots are off (with AOF on they would only add forks
# under the tests' write load, and AOF is what Redis loads on start).
start_redis() {
	local name="$1" port="$2" dir="$3"
	shift 3
	mkdir -p "$dir"
	nohup redis-server \
		--port "$port" --bind 127.0.0.1 --daemonize no --dir "$dir" \
		--save '' --appendonly yes --appendfsync everysec \
		"$@" \
		</dev/null >>"$logs/$name.log" 2>&1 9>&- &
	echo $! >"$run/$name.pid"
}

# Kafka is ready when
#  - its PLAINTEXT port accepts connections (a refused connection fails at
#    once, whereas kcat would retry until its 2 s metadata timeout),
#  - a metadata request lists our broker: the listener only opens once the
#    broker has registered with the controller and been unfenced, and
#  - the group coordinator answers. The first FindCoordinator creates
#    __consumer_offsets and the coordinator then loads it; doing that here
#    spares the first consumer-group test a few seconds of
#    COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR retries.
kafka_ok() {
	local metadata
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 1
	metadata="$(kcat -b "127.0.0.1:$1" -L -m 2 2>/dev/null)" || return 1
	[[ "$metadata" == *"broker 1 at"* ]] || return 1
	coordinator_ok "$1"
}

# coordinator_ok PORT: a FindCoordinator request (v1, the oldest that Kafka
# 4.x accepts) for a group gets error code 0. kcat cannot send one alone, so
# it is spelled out in the Kafka wire format.
coordinator_ok() {
	python3 - "$1" <<'EOF'
import socket, struct, sys

def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b

# Request header v1 (api key 10, version 1, correlation id, client id),
# then key and key type 0 (group).
request = (struct.pack(">hhi", 10, 1, 1) + string("harness")
           + string("harness-warmup") + struct.pack(">b", 0))

def read(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            sys.exit(1)
        buf += chunk
    return buf

try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read(sock, 4))
        response = read(sock, size)
except OSError:
    sys.exit(1)
# Response header (correlation id), then throttle time and error code.
(_, _, error) = struct.unpack(">iih", response[:10])
sys.exit(0 if error == 0 else 1)
EOF
}

# Milliseconds since the epoch (bash 5; the decimal mark depends on locale).
now_ms() {
	local t="${EPOCHREALTIME//[.,]/}"
	echo $((t / 1000))
}

# seconds_since MS: elapsed time as "1.234".
seconds_since() {
	local d=$(($(now_ms) - $1))
	printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# await NAME PATTERN CHECK PORT: poll CHECK PORT every 0.1 s until it
# succeeds (return 0), the process dies or the deadline passes (show the logs,
# stop everything, return 1).
await() {
	local name="$1" pattern="$2" check="$3" port="$4"
	while ! "$check" "$port"; do
		if ! alive "$name" "$pattern"; then
			log "$name exited during startup"
		elif (($(now_ms) >= deadline_ms)); then
			log "$name not ready after ${timeout}s"
		else
			sleep 0.1
			continue
		fi
		show_logs
		cmd_down
		return 1
	done
}

# free_ports N: print N distinct free TCP ports on 127.0.0.1. The sockets are
# held open until all are chosen so the kernel does not hand out one twice;
# another process could still take a port before we bind it, which is rare
# enough on a test machine, and `up` then fails loudly.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# stop NAME PATTERN: SIGTERM, wait up to 30 s (Kafka needs a few seconds for
# a controlled shutdown), then SIGKILL.
stop() {
	local name="$1" pattern="$2" pid i
	if alive "$name" "$pattern"; then
		pid="$(cat "$run/$name.pid")"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) ignored SIGTERM for 30s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		log "stopped $name (pid $pid)"
	fi
	rm -f "$run/$name.pid"
}

show_logs() {
	local f
	for f in "$logs/redis.log" "$logs"/redis-cluster*.log \
		"$logs/kafka-format.log" "$logs/kafka-stdout.log" "$logs/kafka-server.log"; do
		if [[ -s "$f" ]]; then
			echo "----- tail of ${f#"$root/"} -----" >&2
			tail -n 40 "$f" >&2
		fi
	done
}

cmd_down() {
	local i
	stop kafka kafka.Kafka
	stop redis redis-server
	for ((i = 1; i <= cluster_size; i++)); do
		stop "redis-cluster-$i" redis-server
	done
	rm -rf "$run/kafka" "$run/redis" "$run/redis-cluster" "$env_file" "$run/ports"
}

cmd_env() {
	if [[ ! -f "$env_file" ]]; then
		log "not up; run: scripts/harness.sh up (or make up)"
		return 1
	fi
	cat "$env_file"
}

cmd_status() {
	local ok=0 redis_port="" kafka_port="" i cluster_up=1
	local -a ports=() cluster_ports=() cluster_pids=()
	if [[ -f "$run/ports" ]]; then
		read -r -a ports <"$run/ports"
		redis_port="${ports[0]:-}"
		kafka_port="${ports[1]:-}"
		cluster_ports=("${ports[@]:3:cluster_size}")
	fi
	if alive redis redis-server && redis_ok "$redis_port"; then
		echo "redis: up at 127.0.0.1:$redis_port (pid $(cat "$run/redis.pid"))"
	else
		echo "redis: down"
		ok=1
	fi
	((${#cluster_ports[@]} == cluster_size)) || cluster_up=0
	for ((i = 1; i <= cluster_size && cluster_up; i++)); do
		if alive "redis-cluster-$i" redis-server && cluster_ok "${cluster_ports[i - 1]}"; then
			cluster_pids+=("$(cat "$run/redis-cluster-$i.pid")")
		else
			cluster_up=0
		fi
	done
	if ((cluster_up)); then
		echo "redis-cluster: up at $(cluster_addrs "${cluster_ports[@]}") (pids ${cluster_pids[*]})"
	else
		echo "redis-cluster: down"
		ok=1
	fi
	if alive kafka kafka.Kafka && kafka_ok "$kafka_port"; then
		echo "kafka: up at 127.0.0.1:$kafka_port (pid $(cat "$run/kafka.pid"))"
	else
		echo "kafka: down"
		ok=1
	fi
	return "$ok"
}

# cluster_addrs PORT...: "127.0.0.1:P1,127.0.0.1:P2,..."
cluster_addrs() {
	local addrs
	addrs="$(printf ',127.0.0.1:%s' "$@")"
	echo "${addrs#,}"
}

cmd_up() {
	if [[ -f "$env_file" ]] && cmd_status >/dev/null; then
		cat "$env_file"
		return 0
	fi
	# Leftovers of a crashed or half-finished run: start from scratch.
	cmd_down 2>/dev/null

	local tool
	for tool in redis-server redis-cli kcat python3 "$java"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			log "$tool not found; run scripts/deps.sh (or make deps)"
			return 1
		fi
	done

	local libs
	libs="$("$root/scripts/kafka-fetch.sh")"

	mkdir -p "$logs" "$run/kafka/data"
	rm -f "$logs"/*.log

	# ports: Redis, Kafka, the KRaft controller, then the cluster's client
	# ports and their cluster bus ports. The bus port is set explicitly:
	# Redis's default (client port + 10000) can be taken or above 65535.
	local -a ports cluster_ports bus_ports
	read -r -a ports <<<"$(free_ports $((3 + 2 * cluster_size)))"
	echo "${ports[*]}" >"$run/ports"
	local redis_port="${ports[0]}" kafka_port="${ports[1]}" controller_port="${ports[2]}"
	cluster_ports=("${ports[@]:3:cluster_size}")
	bus_ports=("${ports[@]:3+cluster_size:cluster_size}")
	local cluster
	cluster="$(cluster_addrs "${cluster_ports[@]}")"

	local started
	started="$(now_ms)"
	deadline_ms=$((started + timeout * 1000))

	# Redis, standalone and the cluster's nodes, all at once.
	local i
	start_redis redis "$redis_port" "$run/redis"
	for ((i = 1; i <= cluster_size; i++)); do
		start_redis "redis-cluster-$i" "${cluster_ports[i - 1]}" "$run/redis-cluster/$i" \
			--cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-port "${bus_ports[i - 1]}"
	done
	await redis redis-server redis_ok "$redis_port" || return 1
	for ((i = 1; i <= cluster_size; i++)); do
		await "redis-cluster-$i" redis-server redis_ok "${cluster_ports[i - 1]}" || return 1
	done
	log "redis ready after $(seconds_since "$started")s"

	# Assign the slots and join the nodes. redis-cli takes about a second
	# for it (it polls the nodes once a second until they agree), so it runs
	# in the background while Kafka starts, bounded by the readiness timeout.
	timeout "$timeout" redis-cli --cluster create "${cluster_ports[@]/#/127.0.0.1:}" \
		--cluster-replicas 0 --cluster-yes \
		</dev/null >>"$logs/redis-cluster-create.log" 2>&1 9>&- &
	local cluster_create=$!

	# Kafka: one process that is both the KRaft controller (quorum of one,
	# static voters) and the broker. Internal topics get replication factor
	# 1 and one partition: there is one broker, and a 50-partition
	# __consumer_offsets only slows down the first consumer group.
	cat >"$run/kafka/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/kafka/data
num.partitions=$kafka_partitions
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

	# Kafka 4.x logs through log4j2. Without a configuration it would print
	# only errors to the console; send everything at INFO to one file that
	# `up` shows on failure.
	cat >"$run/kafka/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $logs/kafka-server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
EOF

	local -a jvm=(
		"$java" -Xms"$kafka_heap" -Xmx"$kafka_heap"
		-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
		-Dlog4j2.configurationFile="$run/kafka/log4j2.properties"
		-cp "$libs/*"
	)

	# KRaft storage must be formatted with a cluster id before the first
	# start. With static controller.quorum.voters no --standalone flag: that
	# one is for dynamic quorums (controller.quorum.bootstrap.servers).
	local cluster_id
	if ! cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$logs/kafka-format.log")" ||
		! "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
			-c "$run/kafka/server.properties" >>"$logs/kafka-format.log" 2>&1; then
		log "formatting Kafka storage failed"
		show_logs
		cmd_down
		return 1
	fi

	local kafka_started
	kafka_started="$(now_ms)"
	nohup "${jvm[@]}" kafka.Kafka "$run/kafka/server.properties" \
		</dev/null >>"$logs/kafka-stdout.log" 2>&1 9>&- &
	echo $! >"$run/kafka.pid"

	if ! wait "$cluster_create"; then
		log "redis-cli --cluster create failed"
		show_logs
		cmd_down
		return 1
	fi
	for ((i = 1; i <= cluster_size; i++)); do
		await "redis-cluster-$i" redis-server cluster_ok "${cluster_ports[i - 1]}" || return 1
	done
	log "redis cluster ready after $(seconds_since "$started")s"

	await kafka kafka.Kafka kafka_ok "$kafka_port" || return 1
	log "kafka ready $(seconds_since "$kafka_started")s after its start; up took $(seconds_since "$started")s"

	cat >"$env_file.tmp" <<EOF
export CLIENTING_TEST_REDIS_ADDR=127.0.0.1:$redis_port
export CLIENTING_TEST_REDIS_CLUSTER_ADDRS=$cluster
export CLIENTING_TEST_KAFKA_BROKERS=127.0.0.1:$kafka_port
EOF
	mv "$env_file.tmp" "$env_file"
	cat "$env_file"
}

main() {
	local cmd="${1:-}"
	case "$cmd" in
	up | down | env | status) ;;
	*)
		echo "usage: $0 up|down|env|status" >&2
		exit 2
		;;
	esac
	mkdir -p "$run"
	# One harness command at a time per checkout (e.g. `make -j`). The
	# servers are started with fd 9 closed, else they would hold the lock.
	exec 9>"$run/lock"
	flock 9
	"cmd_$cmd"
}

main "$@"
