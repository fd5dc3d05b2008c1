package processor_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/synth"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/state"
)

// purchase is an input message of a purchase with a decimal amount.
func purchase(id, customer string, t time.Time, amount string) kafka.Message {
	v := fmt.Sprintf(`{"schema":1,"id":%q,"type":"purchase","customer_id":%q,"time":%q,"order_id":"o-%s","amount":%q,"currency":"USD"}`,
		id, customer, t.Format(time.RFC3339), id, amount)
	return kafka.Message{Key: []byte(customer), Value: []byte(v)}
}

// Two valid purchases whose sum leaves the 64-bit range: the second is
// dead-lettered with reason overflow and committed, the customer's state
// stays as after the first, and the partition goes on with the events
// behind it.
func TestOverflowDeadLettered(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	t0 := now.Add(-48 * time.Hour)
	kafkatest.Produce(t, h.brokers, h.input(), []kafka.Message{
		purchase("big-1", "rich", t0, "50000000000000000.00"),
		purchase("big-2", "rich", t0.Add(time.Hour), "50000000000000000.00"),
		purchase("small-3", "rich", t0.Add(2*time.Hour), "12.34"),
		purchase("other-1", "other", t0, "5.00"),
	})
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	dlq := kafkatest.ReadAll(t, h.brokers, h.input()+h.cfg.Topics.DeadLetterSuffix)
	require.Len(t, dlq, 1)
	reason, _ := kafkatest.Header(dlq[0], processor.HeaderReason)
	require.Equal(t, string(events.ReasonOverflow), reason)
	msg, _ := kafkatest.Header(dlq[0], processor.HeaderError)
	require.Contains(t, msg, `field "amount"`)
	require.Contains(t, msg, "big-2")

	loaded, err := h.store.Load(t.Context(), []string{"rich", "other"})
	require.NoError(t, err)
	require.Equal(t, int64(5e18+1234), loaded[0].State.Money)
	require.Equal(t, int64(2), loaded[0].State.Purchases)
	require.Equal(t, int64(500), loaded[1].State.Money)
}

// A producer duplicate sent 20 events of its customer after the original
// (beyond any fixed-size id memory) is dropped: it is within the dedupe
// window of event time.
func TestDuplicateFarApart(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	t0 := now.Add(-72 * time.Hour)
	var msgs []kafka.Message
	for i := range 21 {
		msgs = append(msgs, purchase("dup-"+strconv.Itoa(i), "dupe", t0.Add(time.Duration(i)*time.Minute), "1.00"))
	}
	msgs = append(msgs, purchase("dup-0", "dupe", t0, "1.00")) // the first again, 20 events later
	kafkatest.Produce(t, h.brokers, h.input(), msgs)
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())
	loaded, err := h.store.Load(t.Context(), []string{"dupe"})
	require.NoError(t, err)
	require.Equal(t, int64(21), loaded[0].State.Purchases)
	require.Equal(t, int64(2100), loaded[0].State.Money)
}

// An owner that lost the partition in a rebalance and writes late (a
// zombie) cannot overwrite what the new owner wrote: the zombie read the
// partition's checkpoint and a customer after the first half of the
// stream; the new owner processed the second half; the zombie's write of
// that customer, based on what it read, is refused by the checkpoint, and
// each customer's write by the fence (how customers are written on Redis
// Cluster).
func TestZombieWriteFenced(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(60 * 24 * time.Hour)
	h := newHarness(t, now)
	s := synth.Generate(synth.Options{Seed: 7, Customers: 50, Events: 600, Start: start, Span: 50 * 24 * time.Hour, IDPrefix: "zombie-"})
	half := len(s.Messages) / 2
	h.produce(t, s.Messages[:half])
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	// what the zombie read
	ctx := context.Background()
	id := synth.CustomerID("zombie-", 3)
	loaded, err := h.store.Load(ctx, []string{id})
	require.NoError(t, err)
	st := loaded[0].State
	require.NotEmpty(t, st.Watermarks)
	mark := st.Watermarks[0]
	part := -1
	for p := range 4 {
		if state.PartitionOf(h.input(), p) == mark.Partition {
			part = p
		}
	}
	require.GreaterOrEqual(t, part, 0)
	seen, err := h.store.ReadCheckpoint(ctx, h.input(), part)
	require.NoError(t, err)

	// the new owner processes the rest
	h.produce(t, s.Messages[half:])
	stop = h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())
	before := synth.CheckState(t, h.store, s)
	after, err := h.store.ReadCheckpoint(ctx, h.input(), part)
	require.NoError(t, err)
	require.Greater(t, after.Offset, seen.Offset, "the second half reached partition %d", part)

	// the zombie applies one more purchase to what it read and writes
	st.Money += 999_99
	st.Watermarks[0].Offset = seen.Offset
	value, err := h.store.AppendValue(ctx, nil, &st)
	require.NoError(t, err)
	rec := state.Record{CustomerID: id, Value: value, Offset: seen.Offset, Strict: true}
	res, err := h.store.Write(ctx, &state.Batch{Topic: h.input(), Partition: part, Checkpoint: true,
		Expect: seen, Next: seen.Offset + 1, Records: []state.Record{rec}, Token: "zombie"})
	require.NoError(t, err)
	require.True(t, res.Ahead, "%+v", res)
	require.Equal(t, after, res.Checkpoint)
	// customer by customer (as on Redis Cluster), the fence refuses a
	// value whose watermark is not above the stored one: here the very
	// watermark the store held when the zombie read
	st.Watermarks[0].Offset = mark.Offset
	value, err = h.store.AppendValue(ctx, nil, &st)
	require.NoError(t, err)
	rec = state.Record{CustomerID: id, Value: value, Offset: mark.Offset, Strict: true}
	res, err = h.store.Write(ctx, &state.Batch{Topic: h.input(), Partition: part, Records: []state.Record{rec}})
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Fenced)

	require.Equal(t, before, synth.CheckState(t, h.store, s), "nothing of the zombie landed")
	ck, err := h.store.ReadCheckpoint(ctx, h.input(), part)
	require.NoError(t, err)
	require.Equal(t, after, ck)
}

// Redis restarted without persistence in the middle of a stream loses
// everything: the processor notices at its next batch (the checkpoint is
// gone), rewinds every partition to the start of the input and replays
// it; the final state is exact and the segment-change chains unbroken.
func TestRedisLosesStateMidStream(t *testing.T) {
	if clusterMode() {
		t.Skip("a private standalone Redis is restarted; the cluster runs elsewhere")
	}
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(120 * 24 * time.Hour)
	h := newHarness(t, now)
	addr, _, restart := testenv.StartRedis(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.New(rdb, h.store.Config())
	require.NoError(t, err)
	h.store, h.rdb = store, rdb
	h.cfg.SweepInterval = time.Second
	m, err := processor.NewMetrics(nil)
	require.NoError(t, err)

	s := synth.Generate(synth.Options{Seed: 11, Customers: 400, Events: 6000, DupRate: 0.05, Bad: 5,
		Start: start, Span: 110 * 24 * time.Hour, IDPrefix: "lost-"})
	half := len(s.Messages) / 2
	first, second := &synth.Stream{Messages: s.Messages[:half]}, &synth.Stream{Messages: s.Messages[half:]}
	h.produce(t, first.Messages)
	stop := h.startWith(t, m)
	h.waitCaughtUp(t, 2*time.Minute)

	restart() // everything in Redis is gone; Kafka's offsets stay committed
	h.produce(t, second.Messages)
	testenv.Wait(t, 2*time.Minute, func() bool { return testutilValue(m.StateRewinds) >= 4 })
	h.waitCaughtUp(t, 3*time.Minute)
	require.NoError(t, stop())
	final := synth.CheckState(t, h.store, s)
	synth.CheckTransitions(t, h.engine, h.now, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), final)
	// customers that came back in a later batch came from the cache; every
	// customer was read from Redis at least once before and once after the
	// loss (the rewind starts with an empty cache)
	require.Positive(t, testutilValue(m.CacheHits))
	require.GreaterOrEqual(t, testutilValue(m.CacheMisses), float64(2*len(s.Expected)))
}

// startWith is start with the given metrics.
func (h *harness) startWith(t *testing.T, m *processor.Metrics) (stop func() error) {
	t.Helper()
	h.metrics = m
	return h.start(t)
}

// clusterMode reports whether the suite runs on the harness's Redis Cluster
// (CLIENTING_TEST_REDIS_CLUSTER=1, set by scripts/test.sh for its second
// pass over the state and processor tests).
func clusterMode() bool { return testenv.ClusterMode() }

// testutilValue reads a counter.
func testutilValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// When Redis lost a partition's state and the input topic no longer holds
// the offsets to replay (retention deleted them), the partition stops:
// the processor is not ready and names it, the lost-partition gauge is 1,
// and nothing of that partition is processed. The other partitions, whose
// input still starts at offset 0, are replayed. With AcceptStateLoss the
// stopped partition goes on from the committed offset.
func TestStateLostStopsPartition(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	t0 := now.Add(-10 * 24 * time.Hour)
	var msgs []kafka.Message
	for i := range 200 {
		msgs = append(msgs, purchase("lost-"+strconv.Itoa(i), "c-"+strconv.Itoa(i%40), t0.Add(time.Duration(i)*time.Minute), "3.00"))
	}
	kafkatest.Produce(t, h.brokers, h.input(), msgs)
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	// Redis loses everything of this test; retention deletes the first
	// records of partition 2
	ctx := context.Background()
	deletePrefix(t, h.rdb, h.store.Config().Prefix)
	deleteRecords(t, h.brokers, h.input(), 2, 5)

	m, err := processor.NewMetrics(nil)
	require.NoError(t, err)
	p, err := processor.New(h.cfg, h.store, h.dec, h.engine, m)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	testenv.Wait(t, time.Minute, func() bool { return strings.Contains(p.NotReady(), h.input()+"/2") })
	require.False(t, p.Ready())
	require.Contains(t, p.NotReady(), "the input topic starts at 5")
	testenv.Wait(t, time.Minute, func() bool { return testutilValue(m.StateRewinds) >= 3 })
	var g dto.Metric
	require.NoError(t, m.StateLost.WithLabelValues(h.input(), "2").Write(&g))
	require.Equal(t, 1.0, g.GetGauge().GetValue())
	cancel()
	require.NoError(t, <-done)

	// accepting the loss, the partition goes on
	h.cfg.AcceptStateLoss = true
	p, err = processor.New(h.cfg, h.store, h.dec, h.engine, nil)
	require.NoError(t, err)
	runCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	go func() { done <- p.Run(runCtx) }()
	testenv.Wait(t, time.Minute, p.Ready)
	cancel()
	require.NoError(t, <-done)
}

// deletePrefix deletes every key of a test's prefix (on every master of a
// cluster).
func deletePrefix(t *testing.T, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	del := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	ctx := context.Background()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) }))
		return
	}
	require.NoError(t, del(ctx, rdb))
}

// deleteRecords deletes the records of a partition below offset, as
// retention does (kafka-go has no DeleteRecords; franz-go's request is
// sent with its client).
func deleteRecords(t *testing.T, brokers []string, topic string, partition int32, offset int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			require.NoError(t, kerr.ErrorForCode(rp.ErrorCode), "delete records of %s/%d", topic, rp.Partition)
			require.Equal(t, offset, rp.LowWatermark)
		}
	}
}

// A partition stuck behind an unreachable Redis is visible: its lag (high
// watermark minus committed offset) grows as events arrive, the stall
// gauge counts, and past StallTimeout the processor is not ready, naming
// the partitions; once Redis is back it catches up and is ready again.
func TestStalledPartitionVisible(t *testing.T) {
	if testenv.ClusterMode() {
		t.Skip("the proxy stands in front of one Redis; the standalone pass runs this test")
	}
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(120 * 24 * time.Hour)
	h := newHarness(t, now)
	proxy, direct := h.behindProxy(t)
	h.cfg.StallTimeout = 2 * time.Second
	h.cfg.PopulationRefresh = 200 * time.Millisecond
	m, err := processor.NewMetrics(nil)
	require.NoError(t, err)
	p, err := processor.New(h.cfg, h.store, h.dec, h.engine, m)
	require.NoError(t, err)

	s := synth.Generate(synth.Options{Seed: 17, Customers: 200, Events: 3000, Start: start, Span: 110 * 24 * time.Hour, IDPrefix: "stall-"})
	third := len(s.Messages) / 3
	h.produce(t, s.Messages[:third])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	h.waitCaughtUp(t, 2*time.Minute)
	testenv.Wait(t, time.Minute, p.Ready)

	lag := func() float64 {
		var sum float64
		for part := range 4 {
			var g dto.Metric
			if err := m.Lag.WithLabelValues(h.input(), strconv.Itoa(part)).Write(&g); err == nil {
				sum += g.GetGauge().GetValue()
			}
		}
		return sum
	}
	proxy.Cut()
	h.produce(t, s.Messages[third:2*third])
	testenv.Wait(t, time.Minute, func() bool { return strings.Contains(p.NotReady(), "partitions stalled") })
	first := lag()
	require.Positive(t, first)
	h.produce(t, s.Messages[2*third:])
	testenv.Wait(t, time.Minute, func() bool { return lag() > first })
	var g dto.Metric
	require.NoError(t, m.Stalled.WithLabelValues(h.input(), "0").Write(&g))
	require.GreaterOrEqual(t, g.GetGauge().GetValue(), 2.0)

	proxy.Restore()
	h.waitCaughtUp(t, 3*time.Minute)
	testenv.Wait(t, time.Minute, p.Ready)
	testenv.Wait(t, time.Minute, func() bool { return lag() == 0 })
	require.NoError(t, stop())
	synth.CheckState(t, direct, s)
}

// A message of about 1 MB is too large for the decoder, and its dead-letter
// copy (the message plus the reason headers) too large to publish whole: the
// copy keeps the start of the message, its size and SHA-256, is published,
// and the partition moves on to the events behind it.
func TestHugeMessageDeadLettered(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	t0 := now.Add(-24 * time.Hour)
	huge := make([]byte, 999_940)
	for i := range huge {
		huge[i] = 'a' + byte(i%26)
	}
	kafkatest.Produce(t, h.brokers, h.input(), []kafka.Message{
		purchase("before", "big", t0, "1.00"),
		{Key: []byte("big"), Value: huge},
		purchase("after", "big", t0.Add(time.Minute), "2.00"),
	})
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	dlq := kafkatest.ReadAll(t, h.brokers, h.input()+h.cfg.Topics.DeadLetterSuffix)
	require.Len(t, dlq, 1)
	m := dlq[0]
	reason, _ := kafkatest.Header(m, processor.HeaderReason)
	require.Equal(t, string(events.ReasonTooLarge), reason)
	size, _ := kafkatest.Header(m, processor.HeaderOriginalSize)
	require.Equal(t, "999940", size)
	sum := sha256.Sum256(huge)
	hash, _ := kafkatest.Header(m, processor.HeaderOriginalSHA256)
	require.Equal(t, hex.EncodeToString(sum[:]), hash)
	require.Less(t, len(m.Value), len(huge))
	require.Equal(t, huge[:len(m.Value)], m.Value, "the copy is the start of the message")
	loaded, err := h.store.Load(t.Context(), []string{"big"})
	require.NoError(t, err)
	require.Equal(t, int64(300), loaded[0].State.Money, "the events around it were applied")
}
