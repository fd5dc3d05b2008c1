package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// Environment variables read by this package. The harness writes the first
// three to .run/env.
const (
	// RedisAddrEnv holds the Redis address, host:port.
	RedisAddrEnv = "CLIENTING_TEST_REDIS_ADDR"
	// RedisClusterAddrsEnv holds the addresses of the masters of a Redis
	// Cluster, comma-separated host:port.
	RedisClusterAddrsEnv = "CLIENTING_TEST_REDIS_CLUSTER_ADDRS"
	// KafkaBrokersEnv holds the Kafka bootstrap brokers, comma-separated
	// host:port.
	KafkaBrokersEnv = "CLIENTING_TEST_KAFKA_BROKERS"
	// IntegrationEnv set to 1 (as `make test` does) makes missing servers a
	// test failure instead of a skip. CI=true does the same.
	IntegrationEnv = "CLIENTING_INTEGRATION"
)

const (
	// pollInterval is how often Wait and CreateTopics re-check a condition.
	pollInterval = 20 * time.Millisecond
	// kafkaTimeout bounds each admin round trip and the wait for new topics
	// to get leaders.
	kafkaTimeout = 30 * time.Second
	// maxUniqueLen keeps Unique names well below Kafka's 249-character
	// topic limit, leaving room for callers to append a short suffix.
	maxUniqueLen = 200
)

// Redis returns the address (host:port) of the Redis server for integration
// tests. See the package documentation for what happens when
// CLIENTING_TEST_REDIS_ADDR is unset.
func Redis(tb testing.TB) string {
	tb.Helper()
	if addr := strings.TrimSpace(os.Getenv(RedisAddrEnv)); addr != "" {
		return addr
	}
	requireDocker(tb, RedisAddrEnv)
	addr, err := redisContainer()
	if err != nil {
		tb.Fatalf("testenv: %s is not set and the Redis container did not start: %v", RedisAddrEnv, err)
	}
	return addr
}

// RedisCluster returns the addresses (host:port) of the masters of the Redis
// Cluster for integration tests, from CLIENTING_TEST_REDIS_CLUSTER_ADDRS.
// There is no container to stand in for a cluster: when the variable is
// unset the test fails in an integration run (see [Required]) and is skipped
// otherwise.
func RedisCluster(tb testing.TB) []string {
	tb.Helper()
	if addrs := splitAddrs(os.Getenv(RedisClusterAddrsEnv)); len(addrs) > 0 {
		return addrs
	}
	if Required() {
		tb.Fatalf("testenv: %s is not set, but this is an integration run (%s=1 or CI=true) and needs a Redis Cluster: "+
			"run the tests with `make test`, or start the servers with `make up` and "+
			"`eval \"$(scripts/harness.sh env)\"` before go test", RedisClusterAddrsEnv, IntegrationEnv)
	}
	tb.Skipf("testenv: %s is not set: run `make test` (or `make up` and `eval \"$(scripts/harness.sh env)\"`) "+
		"to run the Redis Cluster tests", RedisClusterAddrsEnv)
	return nil
}

// Kafka returns the bootstrap brokers (host:port) of the Kafka cluster for
// integration tests. See the package documentation for what happens when
// CLIENTING_TEST_KAFKA_BROKERS is unset.
func Kafka(tb testing.TB) []string {
	tb.Helper()
	if brokers := splitAddrs(os.Getenv(KafkaBrokersEnv)); len(brokers) > 0 {
		return brokers
	}
	requireDocker(tb, KafkaBrokersEnv)
	brokers, err := kafkaContainer()
	if err != nil {
		tb.Fatalf("testenv: %s is not set and the Kafka container did not start: %v", KafkaBrokersEnv, err)
	}
	return brokers
}

// splitAddrs splits a comma-separated list of host:port, dropping blanks.
func splitAddrs(s string) []string {
	var addrs []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// requireDocker is called when the variable env is unset. It fails the test
// in an integration run, skips it when no Docker engine answers, and returns
// when containers can stand in for the harness.
func requireDocker(tb testing.TB, env string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("testenv: %s is not set, but this is an integration run (%s=1 or CI=true) and needs real servers: "+
			"run the tests with `make test`, or start the servers with `make up` and "+
			"`eval \"$(scripts/harness.sh env)\"` before go test", env, IntegrationEnv)
	}
	if !dockerAvailable() {
		tb.Skipf("testenv: %s is not set and no Docker engine answers: run `make test` to run the integration tests "+
			"against the project's Redis and Kafka", env)
	}
}

// Required reports whether this run must have its real servers and tools
// (CLIENTING_INTEGRATION=1, as `make test` sets, or CI=true): then a missing
// dependency is a test failure, never a skip. Tests that need other tools
// (kcat, promtool) use it to decide between t.Fatal and t.Skip.
func Required() bool {
	for _, env := range []string{IntegrationEnv, "CI"} {
		if on, err := strconv.ParseBool(os.Getenv(env)); err == nil && on {
			return true
		}
	}
	return false
}

// Wait polls cond every 20 ms until it returns true and fails the test if
// that has not happened within timeout. Call it from the test's goroutine.
func Wait(tb testing.TB, timeout time.Duration, cond func() bool) {
	tb.Helper()
	err := poll(timeout, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	if err != nil {
		tb.Fatalf("testenv: condition not met within %s", timeout)
	}
}

var errNotYet = errors.New("not yet")

// poll calls check until it returns nil or timeout passes, and then returns
// the last error.
func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}

var uniqueSeq atomic.Uint64

// Unique returns a name for a topic, consumer group or Redis key prefix that
// no other test uses: prefix, the test's name and a suffix that is unique
// within the process and random across processes (the test binaries of all
// packages share one broker and one Redis).
//
// The result holds only [a-zA-Z0-9-] and is at most 200 characters long.
// Kafka also allows '.' and '_' but refuses a topic whose name differs from
// an existing one only by those two (they collide in metric names), so both
// become '-'.
func Unique(tb testing.TB, prefix string) string {
	tb.Helper()
	suffix := fmt.Sprintf("%d-%08x", uniqueSeq.Add(1), rand.Uint32())
	var parts []string
	for _, p := range []string{prefix, tb.Name()} {
		if p = sanitize(p); p != "" {
			parts = append(parts, p)
		}
	}
	name := strings.Join(parts, "-")
	if limit := maxUniqueLen - len(suffix) - 1; len(name) > limit {
		name = strings.TrimRight(name[:limit], "-")
	}
	if name == "" {
		return suffix
	}
	return name + "-" + suffix
}

// sanitize replaces each run of characters outside [a-zA-Z0-9] by one '-'
// and trims '-' from both ends.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// CreateTopics creates topics with the given number of partitions and
// replication factor 1, waits until every partition has a leader that
// serves it (so the first produce succeeds), and
// registers a cleanup that deletes them when the test ends. Use [Unique]
// names: the broker is shared by all tests.
func CreateTopics(tb testing.TB, brokers []string, partitions int, topics ...string) {
	tb.Helper()
	if len(topics) == 0 {
		return
	}
	if len(brokers) == 0 {
		tb.Fatalf("testenv: CreateTopics %q: no brokers", topics)
	}
	if partitions < 1 {
		tb.Fatalf("testenv: CreateTopics %q: partitions must be at least 1, got %d", topics, partitions)
	}

	configs := make([]kafka.TopicConfig, len(topics))
	for i, t := range topics {
		configs[i] = kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: 1}
	}
	err := withController(brokers, func(c *kafka.Conn) error { return c.CreateTopics(configs...) })
	if err != nil {
		tb.Fatalf("testenv: create topics %q: %v", topics, err)
	}
	tb.Cleanup(func() {
		err := withController(brokers, func(c *kafka.Conn) error { return c.DeleteTopics(topics...) })
		if err != nil {
			tb.Logf("testenv: delete topics %q: %v", topics, err)
		}
	})

	// CreateTopics returns once the controller has accepted the topics; the
	// broker learns of them (and of their leaders) from the metadata log a
	// moment later, and clients that look before then get
	// UNKNOWN_TOPIC_OR_PARTITION.
	if err := poll(kafkaTimeout, func() error { return topicsReady(brokers, partitions, topics) }); err != nil {
		tb.Fatalf("testenv: topics %q not ready within %s: %v", topics, kafkaTimeout, err)
	}
}

// withController calls fn with a connection to the cluster's controller,
// which is the broker that must receive CreateTopics and DeleteTopics.
func withController(brokers []string, fn func(*kafka.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	conn, err := dialAny(ctx, brokers)
	if err != nil {
		return err
	}
	defer conn.Close()
	controller, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("find controller: %w", err)
	}
	addr := net.JoinHostPort(controller.Host, strconv.Itoa(controller.Port))
	cc, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial controller %s: %w", addr, err)
	}
	defer cc.Close()
	if deadline, ok := ctx.Deadline(); ok {
		if err := cc.SetDeadline(deadline); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	return fn(cc)
}

// dialAny connects to the first broker that answers.
func dialAny(ctx context.Context, brokers []string) (*kafka.Conn, error) {
	var errs []error
	for _, b := range brokers {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, fmt.Errorf("dial %s: %w", b, err))
			continue
		}
		if deadline, ok := ctx.Deadline(); ok {
			if err := conn.SetDeadline(deadline); err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("set deadline: %w", err)
			}
		}
		return conn, nil
	}
	return nil, errors.Join(errs...)
}

// topicsReady reports, as an error, the first topic whose partitions are not
// all led and serving.
func topicsReady(brokers []string, partitions int, topics []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dialAny(ctx, brokers)
	if err != nil {
		return err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topics...)
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	led := make(map[string]int, len(topics))
	for _, p := range parts {
		if p.Error == nil && p.Leader.Host != "" {
			led[p.Topic]++
		}
	}
	for _, t := range topics {
		if led[t] != partitions {
			return fmt.Errorf("topic %s: %d of %d partitions have a leader", t, led[t], partitions)
		}
	}
	// A KRaft broker updates the metadata it serves before its replica
	// manager has created the partitions, so a producer that trusts the
	// metadata can still get NOT_LEADER_OR_FOLLOWER or
	// UNKNOWN_TOPIC_OR_PARTITION for a moment (seen here for a third of new
	// partitions). A ListOffsets answered by each partition's leader shows
	// the partition really serves.
	for _, p := range parts {
		if err := partitionServes(ctx, p); err != nil {
			return fmt.Errorf("topic %s partition %d: %w", p.Topic, p.ID, err)
		}
	}
	return nil
}

func partitionServes(ctx context.Context, p kafka.Partition) error {
	conn, err := kafka.DialPartition(ctx, "tcp", "", p)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	_, err = conn.ReadLastOffset()
	return err
}

// ClusterModeEnv set to 1 makes RedisClient return a client of the Redis
// Cluster (RedisCluster) instead of the standalone Redis: scripts/test.sh
// runs the state and processor suites a second time so.
const ClusterModeEnv = "CLIENTING_TEST_REDIS_CLUSTER"

// ClusterMode reports whether ClusterModeEnv is 1.
func ClusterMode() bool { return os.Getenv(ClusterModeEnv) == "1" }

// RedisClient returns a client of the test Redis, closed at the end of the
// test: the Redis Cluster in ClusterMode, the standalone Redis otherwise.
func RedisClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	var c redis.UniversalClient
	if ClusterMode() {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: RedisCluster(tb), DisableIdentity: true})
	} else {
		c = redis.NewClient(&redis.Options{Addr: Redis(tb), DisableIdentity: true})
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
