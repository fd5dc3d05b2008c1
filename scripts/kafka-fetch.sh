#!/usr/bin/env bash
# Assemble an Apache Kafka broker from its Maven Central artifacts.
#
# Apache does not publish the binary distribution (kafka_2.13-X.tgz) to Maven
# Central, but the broker's jars are there: org.apache.kafka:kafka_2.13 and its
# runtime dependencies are exactly what the distribution's libs/ holds, minus
# the logging binding. We let Maven resolve them into
# .cache/kafka/<version>/libs, then run `java -cp 'libs/*' kafka.Kafka ...`
# (see scripts/harness.sh).
#
# Usage: scripts/kafka-fetch.sh
#   Prints the libs directory (absolute path) on stdout; progress goes to stderr.
#   A second run finds the marker file and fetches nothing.
set -euo pipefail

# The one place the broker version is set. 4.4.0 is the newest 4.x on Maven
# Central; its broker classes are Java 17 bytecode (class major 61), so the
# Debian Java 17 runs it.
KAFKA_VERSION=4.4.0
SCALA_VERSION=2.13
# Pinned so that a fresh machine resolves the same plugin (Maven 3.8's default
# is 2.8).
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/kafka/$KAFKA_VERSION"
libs="$dest/libs"
marker="$dest/.complete"

log() { echo "kafka-fetch: $*" >&2; }

# Maven 3.8 prints stray colour-reset codes even with -q -B; strip them.
mvn_quiet() {
	mvn -B -q "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
}

if [[ -f "$marker" ]]; then
	echo "$libs"
	exit 0
fi

for tool in java mvn; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		log "$tool not found; run scripts/deps.sh (or make deps) first"
		exit 1
	fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A throwaway project whose only dependency is the broker. Packaging "pom"
# means Maven builds nothing; we only use it to resolve dependencies.
cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.clienting</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF

log "resolving org.apache.kafka:kafka_${SCALA_VERSION}:${KAFKA_VERSION} and its runtime dependencies"
mvn_quiet -f "$work/pom.xml" \
	"$DEPENDENCY_PLUGIN:copy-dependencies" \
	-DincludeScope=runtime \
	-DoutputDirectory="$work/libs"

# Kafka 4.x logs through SLF4J (slf4j-api 1.7.x, from kafka_2.13's POM) and
# ships log4j2 (log4j-api/log4j-core, pulled in by kafka-server), but no
# binding between the two is a Maven dependency: without one the broker logs
# nothing at all. slf4j-api 1.7 needs the SLF4J 1.x binding log4j-slf4j-impl
# (log4j-slf4j2-impl is for slf4j-api 2.x), at the log4j-core version Kafka
# chose, which we read off the resolved jar instead of hard-coding it.
core_jar="$(find "$work/libs" -maxdepth 1 -name 'log4j-core-*.jar' | head -n 1)"
if [[ -z "$core_jar" ]]; then
	log "no log4j-core jar among Kafka's runtime dependencies; cannot pick a logging binding"
	exit 1
fi
log4j_version="$(basename "$core_jar" .jar)"
log4j_version="${log4j_version#log4j-core-}"
slf4j_jar="$(find "$work/libs" -maxdepth 1 -name 'slf4j-api-*.jar' | head -n 1)"
case "$(basename "$slf4j_jar")" in
slf4j-api-1.*) binding=log4j-slf4j-impl ;;
*) binding=log4j-slf4j2-impl ;;
esac
log "adding org.apache.logging.log4j:${binding}:${log4j_version} (matches $(basename "$core_jar"), $(basename "$slf4j_jar"))"
mvn_quiet -f "$work/pom.xml" \
	"$DEPENDENCY_PLUGIN:copy" \
	-Dartifact="org.apache.logging.log4j:${binding}:${log4j_version}" \
	-DoutputDirectory="$work/libs"

if [[ ! -f "$work/libs/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ]]; then
	log "kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar missing after resolution"
	exit 1
fi

# Replace any half-finished earlier attempt, then mark the directory complete
# last, so an interrupted run is redone rather than trusted.
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/libs" "$libs"
touch "$marker"
log "$(find "$libs" -name '*.jar' | wc -l) jars in $libs"
echo "$libs"
