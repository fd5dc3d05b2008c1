package testenv_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/internal/testenv"
)

func TestUnique(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	tests := []struct {
		name   string
		prefix string
	}{
		{name: "plain", prefix: "events"},
		{name: "odd prefix", prefix: "in.topic_v1/{x}"},
		{name: "empty prefix", prefix: ""},
		{name: strings.Repeat("sub/", 60), prefix: strings.Repeat("p", 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testenv.Unique(t, tc.prefix)
			b := testenv.Unique(t, tc.prefix)
			require.NotEqual(t, a, b)
			for _, name := range []string{a, b} {
				require.Regexp(t, valid, name)
				require.LessOrEqual(t, len(name), 200)
			}
		})
	}
}

// fatalRecorder records Fatalf instead of stopping the test, to check that
// Wait gives up.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = format }

func TestWait(t *testing.T) {
	t.Run("met", func(t *testing.T) {
		calls := 0
		testenv.Wait(t, time.Second, func() bool { calls++; return calls == 3 })
		require.Equal(t, 3, calls)
	})
	t.Run("timeout", func(t *testing.T) {
		rec := &fatalRecorder{TB: t}
		start := time.Now()
		testenv.Wait(rec, 60*time.Millisecond, func() bool { return false })
		require.NotEmpty(t, rec.fatal, "Wait did not fail on timeout")
		require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	})
}

func TestRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := redis.NewClient(&redis.Options{
		Addr: testenv.Redis(t),
		// Plain Redis does not know CLIENT MAINT_NOTIFICATIONS.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { require.NoError(t, client.Close()) })

	require.Equal(t, "PONG", client.Ping(ctx).Val())

	key := testenv.Unique(t, "testenv") + ":k"
	t.Cleanup(func() { client.Del(context.Background(), key) })
	require.NoError(t, client.Set(ctx, key, "v", time.Minute).Err())
	got, err := client.Get(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "v", got)
}

// TestRedisCluster checks the cluster the harness builds: every slot is
// served, the masters are the addresses given, and keys in many slots (and
// a multi-key command within one hash tag) work through a cluster client.
func TestRedisCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrs := testenv.RedisCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                    addrs,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { require.NoError(t, client.Close()) })

	info, err := client.ClusterInfo(ctx).Result()
	require.NoError(t, err)
	require.Contains(t, info, "cluster_state:ok")

	shards, err := client.ClusterShards(ctx).Result()
	require.NoError(t, err)
	covered := 0
	masters := map[string]bool{}
	for _, s := range shards {
		for _, r := range s.Slots {
			covered += int(r.End - r.Start + 1)
		}
		for _, n := range s.Nodes {
			if n.Role == "master" && len(s.Slots) > 0 {
				masters[n.IP+":"+strconv.FormatInt(n.Port, 10)] = true
			}
		}
	}
	require.Equal(t, 16384, covered, "slots served")
	require.Len(t, masters, len(addrs))
	for _, a := range addrs {
		require.True(t, masters[a], "%s is not a master of the cluster (masters: %v)", a, masters)
	}

	prefix := testenv.Unique(t, "testenv")
	var keys []string
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("%s:%d", prefix, i))
	}
	t.Cleanup(func() {
		for _, k := range keys {
			client.Del(context.Background(), k)
		}
	})
	for i, k := range keys {
		require.NoError(t, client.Set(ctx, k, i, time.Minute).Err())
	}
	for i, k := range keys {
		got, err := client.Get(ctx, k).Int()
		require.NoError(t, err)
		require.Equal(t, i, got)
	}

	// One hash tag, one slot: multi-key commands are allowed.
	tagged := []string{"{" + prefix + "}:a", "{" + prefix + "}:b"}
	t.Cleanup(func() { client.Del(context.Background(), tagged...) })
	require.NoError(t, client.MSet(ctx, tagged[0], "1", tagged[1], "2").Err())
	require.Equal(t, []any{"1", "2"}, client.MGet(ctx, tagged...).Val())
}

// TestStartRedis checks the private server of StartRedis: restart keeps
// exactly what the server persisted, and stop stops it.
func TestStartRedis(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		survives bool
	}{
		{name: "no persistence", args: []string{"--save", "", "--appendonly", "no"}, survives: false},
		{name: "aof always", args: []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}, survives: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			addr, stop, restart := testenv.StartRedis(t, tc.args...)
			client := redis.NewClient(&redis.Options{
				Addr:                     addr,
				MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
			})
			t.Cleanup(func() { require.NoError(t, client.Close()) })

			require.NoError(t, client.Set(ctx, "k", "v", 0).Err())
			restart()
			got, err := client.Get(ctx, "k").Result()
			if tc.survives {
				require.NoError(t, err)
				require.Equal(t, "v", got)
			} else {
				require.ErrorIs(t, err, redis.Nil, "key survived a restart without persistence")
			}

			// A second restart, on the same port again.
			restart()
			require.NoError(t, client.Ping(ctx).Err())

			stop()
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = conn.Close()
			}
			require.Error(t, err, "server still listens after stop")
			stop() // a second stop does nothing

			restart() // starts a stopped server
			require.NoError(t, client.Ping(ctx).Err())
		})
	}
}

// TestKafka is the proof that kafka-go works against the broker we run:
// topic creation, produce with acks=all, and a consumer group that fetches,
// commits, and resumes from the committed offset.
func TestKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	brokers := testenv.Kafka(t)
	topic := testenv.Unique(t, "testenv")
	group := testenv.Unique(t, "testenv-group")
	testenv.CreateTopics(t, brokers, 2, topic)

	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	t.Cleanup(func() { require.NoError(t, w.Close()) })
	write := func(key, value string) {
		t.Helper()
		err := w.WriteMessages(ctx, kafka.Message{
			Key:     []byte(key),
			Value:   []byte(value),
			Headers: []kafka.Header{{Key: "h", Value: []byte(value)}},
		})
		require.NoError(t, err)
	}
	// read fetches one message in group, commits it and closes the reader.
	read := func() kafka.Message {
		t.Helper()
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:        brokers,
			GroupID:        group,
			Topic:          topic,
			StartOffset:    kafka.FirstOffset,
			CommitInterval: 0, // synchronous commits
			MaxWait:        100 * time.Millisecond,
		})
		defer func() { require.NoError(t, r.Close()) }()
		m, err := r.FetchMessage(ctx)
		require.NoError(t, err)
		require.NoError(t, r.CommitMessages(ctx, m))
		return m
	}

	// Same key, same partition: the second reader must start after the
	// offset the first one committed.
	write("customer-1", "first")
	m := read()
	require.Equal(t, "first", string(m.Value))
	require.Equal(t, "customer-1", string(m.Key))
	require.Equal(t, []kafka.Header{{Key: "h", Value: []byte("first")}}, m.Headers)

	write("customer-1", "second")
	m = read()
	require.Equal(t, "second", string(m.Value), "consumer group did not resume from its committed offset")
}

// TestKcat checks that the CLI tool the harness uses for its readiness check
// can read the broker's metadata.
func TestKcat(t *testing.T) {
	brokers := testenv.Kafka(t)
	if _, err := exec.LookPath("kcat"); err != nil {
		if testenv.Required() {
			t.Fatal("kcat not installed: run scripts/deps.sh")
		}
		t.Skip("kcat not installed: run scripts/deps.sh")
	}
	topic := testenv.Unique(t, "testenv")
	testenv.CreateTopics(t, brokers, 3, topic)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kcat", "-b", strings.Join(brokers, ","), "-L", "-t", topic).CombinedOutput()
	require.NoError(t, err, "kcat -L:\n%s", out)
	require.Contains(t, string(out), `topic "`+topic+`" with 3 partitions`)
}
