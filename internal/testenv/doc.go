// Package testenv gives integration tests the real servers they talk to:
// Redis (standalone and a Redis Cluster) and Apache Kafka.
//
// # Where the servers come from
//
// The project's harness (scripts/harness.sh, driven by `make test` and
// `make up`) starts a standalone redis-server, a Redis Cluster of three
// masters and a single-node KRaft Kafka on free loopback ports, and writes
// their addresses to .run/env:
//
//	CLIENTING_TEST_REDIS_ADDR=127.0.0.1:6379
//	CLIENTING_TEST_REDIS_CLUSTER_ADDRS=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//	CLIENTING_TEST_KAFKA_BROKERS=127.0.0.1:9092[,host:port...]
//
// Its Redis servers persist to an append-only file fsynced every second.
//
// [RedisCluster] returns the cluster's addresses; when they are unset the
// test fails in an integration run and is skipped otherwise (no container
// stands in for a cluster).
//
// [Redis] and [Kafka] return those addresses. When a variable is unset they
// act on what the run asked for:
//
//   - CLIENTING_INTEGRATION=1 or CI=true: the test fails. A run that was
//     meant to be an integration run must not pass by skipping.
//   - otherwise, when a Docker engine answers: one Redis and one Kafka
//     container (testcontainers-go) per test binary, shared by its tests.
//   - otherwise the test is skipped with a pointer to `make test`, so that
//     `go test ./...` on a bare machine runs the unit tests.
//
// [Required] reports whether this is such an integration run, for tests that
// need other tools (kcat, promtool) and must not skip silently in CI.
//
// # A Redis of the test's own
//
// [StartRedis] runs a private redis-server for one test, with the
// persistence settings the test chooses, and can kill and restart it: for
// tests of what happens when Redis fails or loses its data, which the shared
// servers must never do.
//
// # Isolation
//
// All tests of all packages share one Redis, one Redis Cluster and one
// broker, and packages run in parallel. A test therefore never uses a fixed
// name: [Unique] gives a topic name or key prefix of its own, and
// [CreateTopics] creates topics and deletes them when the test ends. Tests
// must not flush Redis.
//
// # Waiting
//
// Tests wait for asynchronous effects with [Wait], which polls a condition
// until a deadline, instead of sleeping for a guessed time.
package testenv
