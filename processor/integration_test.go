package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/faultproxy"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/synth"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// harness is one test's private world on the shared real servers: its own
// topics, consumer group and Redis key prefix.
type harness struct {
	brokers []string
	rdb     redis.UniversalClient
	cfg     processor.Config
	metrics *processor.Metrics // nil: the processor's own
	store   *state.Store
	dec     *events.Decoder
	engine  *scoring.Engine
	now     time.Time
}

func newHarness(t *testing.T, now time.Time) *harness {
	t.Helper()
	brokers := testenv.Kafka(t)
	rdb := testenv.RedisClient(t)
	name := testenv.Unique(t, "p")
	cfg := processor.Config{
		Brokers: brokers,
		GroupID: name + "-group",
		Topics: processor.Topics{
			Input:          []string{name + ".events"},
			SegmentChanges: name + ".segment-changes",
			ChurnRisk:      name + ".churn-risk",
			Recovery:       name + ".recovery",
		},
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: time.Second,
		RebalanceTimeout:  6 * time.Second,
		RetryMax:          time.Second,
		Model:             processor.ModelConfig{Refit: new(bool)},
		Now:               func() time.Time { return now },
		Logger:            slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	require.NoError(t, cfg.Validate())
	testenv.CreateTopics(t, brokers, 4, cfg.Topics.Input[0], cfg.Topics.Input[0]+cfg.Topics.DeadLetterSuffix,
		cfg.Topics.SegmentChanges, cfg.Topics.ChurnRisk, cfg.Topics.Recovery)
	store, err := state.New(rdb, state.Config{Prefix: name})
	require.NoError(t, err)
	dec, err := events.NewDecoder(events.DecoderConfig{})
	require.NoError(t, err)
	engine, err := scoring.NewEngine(synth.ScoringConfig())
	require.NoError(t, err)
	return &harness{brokers: brokers, rdb: rdb, cfg: cfg, store: store, dec: dec, engine: engine, now: now}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func (h *harness) input() string { return h.cfg.Topics.Input[0] }

func (h *harness) produce(t *testing.T, msgs []synth.Message) {
	t.Helper()
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: []byte(m.Key), Value: m.Value}
	}
	kafkatest.Produce(t, h.brokers, h.input(), km)
}

// start runs a processor until the returned stop is called; stop returns
// Run's error.
func (h *harness) start(t *testing.T) (stop func() error) {
	t.Helper()
	p, err := processor.New(h.cfg, h.store, h.dec, h.engine, h.metrics)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once bool
	var res error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				res = errors.New("processor did not stop within 60s")
			}
		}
		return res
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func (h *harness) waitCaughtUp(t *testing.T, timeout time.Duration) {
	t.Helper()
	testenv.Wait(t, timeout, func() bool {
		return kafkatest.CaughtUp(t, h.brokers, h.cfg.GroupID, h.input())
	})
}

func TestPipelineEndToEnd(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(200 * 24 * time.Hour)
	h := newHarness(t, now)
	s := synth.Generate(synth.Options{
		Seed: 1, Customers: 2000, Events: 20000, DupRate: 0.05, Bad: 50,
		Start: start, Span: 180 * 24 * time.Hour, IDPrefix: "e2e-",
	})
	require.Equal(t, 50, s.Bad)
	require.InDelta(t, 1000, s.Dups, 150)
	t.Logf("stream: %d good, %d duplicates, %d malformed, %d customers", s.Good, s.Dups, s.Bad, len(s.Expected))
	h.produce(t, s.Messages)

	began := time.Now()
	stop := h.start(t)
	h.waitCaughtUp(t, 3*time.Minute)
	elapsed := time.Since(began)
	require.NoError(t, stop())
	t.Logf("processed %d messages in %s (%.0f msg/s incl. group join)", len(s.Messages), elapsed.Round(time.Millisecond),
		float64(len(s.Messages))/elapsed.Seconds())

	final := synth.CheckState(t, h.store, s)
	n := synth.CheckTransitions(t, h.engine, h.now, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), final)
	t.Logf("%d customer segmentations verified", n)

	// every complaint opened has its recovery event (once or more, same id)
	var complaints int64
	for _, e := range s.Expected {
		complaints += e.Complaints
	}
	recoveries := map[string]events.Recovery{}
	for _, m := range kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.Recovery) {
		var r events.Recovery
		require.NoError(t, json.Unmarshal(m.Value, &r))
		require.NotEmpty(t, r.Priority)
		require.NotEmpty(t, r.ValueTier)
		require.Equal(t, string(m.Key), r.CustomerID)
		recoveries[r.ID] = r
	}
	require.Len(t, recoveries, int(complaints))

	// every malformed message is dead-lettered with its reason
	dlq := kafkatest.ReadAll(t, h.brokers, h.input()+h.cfg.Topics.DeadLetterSuffix)
	require.Len(t, dlq, s.Bad)
	for _, m := range dlq {
		reason, ok := kafkatest.Header(m, processor.HeaderReason)
		require.True(t, ok, "dead letter without reason: %s", m.Value)
		require.NotEmpty(t, reason)
		msg, ok := kafkatest.Header(m, processor.HeaderError)
		require.True(t, ok)
		if reason == string(events.ReasonInvalidJSON) {
			require.Contains(t, msg, "byte offset", "a syntax error names where: %s", msg)
		} else {
			require.Contains(t, msg, "field", "error should name the field: %s", msg)
		}
		_, ok = kafkatest.Header(m, processor.HeaderOffset)
		require.True(t, ok)
	}
}

// TestReplayIsHarmless processes a stream, then forces the group back to
// offset zero and processes everything again: nothing may change.
func TestReplayIsHarmless(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(100 * 24 * time.Hour)
	h := newHarness(t, now)
	s := synth.Generate(synth.Options{Seed: 2, Customers: 200, Events: 2000, DupRate: 0.05, Bad: 5,
		Start: start, Span: 90 * 24 * time.Hour, IDPrefix: "replay-"})
	h.produce(t, s.Messages)
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())
	before := kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges)
	synth.CheckState(t, h.store, s)

	// a new group over the same input replays every message
	h.cfg.GroupID += "-replay"
	stop = h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())
	final := synth.CheckState(t, h.store, s)
	synth.CheckTransitions(t, h.engine, h.now, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), final)
	after := kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges)
	require.Len(t, after, len(before), "a replay must publish no new transitions")
}

// behindProxy puts the harness's store behind a fault proxy in front of the
// test Redis, whose connections a test can cut and restore; it returns the
// proxy and a store that talks to Redis directly, for checks.
func (h *harness) behindProxy(t *testing.T) (*faultproxy.Proxy, *state.Store) {
	t.Helper()
	proxy := faultproxy.Start(t, testenv.Redis(t))
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), DisableIdentity: true,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.New(rdb, h.store.Config())
	require.NoError(t, err)
	direct := h.store
	h.store = store
	return proxy, direct
}

// TestRedisOutage cuts Redis away twice while a stream is processed: the
// processor stalls, retries, and resumes by itself when Redis is back; the
// final state is exact and no transition is missing.
func TestRedisOutage(t *testing.T) {
	if testenv.ClusterMode() {
		t.Skip("the proxy stands in front of one Redis; the standalone pass runs this test")
	}
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(120 * 24 * time.Hour)
	h := newHarness(t, now)
	proxy, direct := h.behindProxy(t)

	s := synth.Generate(synth.Options{Seed: 3, Customers: 500, Events: 8000, DupRate: 0.05, Bad: 10,
		Start: start, Span: 110 * 24 * time.Hour, IDPrefix: "outage-"})
	h.produce(t, s.Messages)
	h.cfg.BatchSize = 100
	stop := h.start(t)
	committed := func() int64 {
		var n int64
		for _, off := range kafkatest.Committed(t, h.brokers, h.cfg.GroupID, h.input()) {
			n += max(off, 0)
		}
		return n
	}
	var prev int64
	for range 2 {
		// cut only after progress since the last outage
		testenv.Wait(t, time.Minute, func() bool { return committed() > prev })
		prev = committed()
		proxy.Cut()
		time.Sleep(1500 * time.Millisecond) // the outage itself, not a wait for a result
		proxy.Restore()
	}
	h.waitCaughtUp(t, 3*time.Minute)
	require.NoError(t, stop())
	final := synth.CheckState(t, direct, s)
	synth.CheckTransitions(t, h.engine, h.now, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), final)
}

// TestOutboxRepublished: transitions recorded by an owner that crashed
// before publishing them are published, unchanged, by the next owner of the
// partition before it processes anything.
// A crash can cut the record pipeline after the outbox entries and before
// the customers' hashes. The next owner republishes the outbox and restores
// from it what the cut record would have written, so that a replay cannot
// give the same transition id to another content; a customer whose record
// landed (its sequence is there) is left alone.
func TestOutboxRestoresCutRecord(t *testing.T) {
	h := newHarness(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	change := events.SegmentChange{ID: "cut-8", CustomerID: "cut", Segmentation: "rfm", From: "loyal", To: "champions",
		Cause: events.Cause{Kind: events.CauseEvent, EventID: "e-1"}, Sequence: 8}
	risk := events.ChurnRisk{ID: "cut-9", CustomerID: "cut", To: "high", Cause: events.Cause{Kind: events.CauseTime}, Sequence: 9}
	landed := events.SegmentChange{ID: "landed-3", CustomerID: "landed", Segmentation: "rfm", To: "new",
		Cause: events.Cause{Kind: events.CauseEvent, EventID: "e-2"}, Sequence: 3}
	box := h.store.OutboxKey(h.input(), 1)
	require.NoError(t, h.rdb.HSet(ctx, box,
		"cut", state.EncodeMessages(nil, []state.Message{
			{Topic: h.cfg.Topics.SegmentChanges, Value: change.AppendJSON(nil)},
			{Topic: h.cfg.Topics.ChurnRisk, Value: risk.AppendJSON(nil)},
		}),
		"landed", state.EncodeMessages(nil, []state.Message{{Topic: h.cfg.Topics.SegmentChanges, Value: landed.AppendJSON(nil)}}),
	).Err())
	// the cut customer's hash is as before the record; the landed one's
	// record went through and a later one too
	require.NoError(t, h.rdb.HSet(ctx, h.store.CustomerKey("cut"), "seq", 7, "p:rfm", "loyal", "p:churn", "low").Err())
	require.NoError(t, h.rdb.HSet(ctx, h.store.CustomerKey("landed"), "seq", 4, "p:rfm", "promising").Err())

	stop := h.start(t)
	testenv.Wait(t, time.Minute, func() bool {
		box, err := h.store.Outbox(ctx, h.input(), 1)
		return err == nil && len(box) == 0
	})
	require.NoError(t, stop())
	require.Len(t, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), 2)
	require.Len(t, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.ChurnRisk), 1)
	// the restored customer was a release-1 hash: now a value of the
	// current version; the one left alone is still a hash
	loaded, err := h.store.Load(ctx, []string{"cut", "landed"})
	require.NoError(t, err)
	cut := loaded[0].State
	require.Equal(t, int64(9), cut.Seq)
	require.Equal(t, map[string]string{"rfm": "champions", "churn": "high"}, cut.Published)
	require.Equal(t, "string", h.rdb.Type(ctx, h.store.CustomerKey("cut")).Val())
	kept := loaded[1].State
	require.Equal(t, int64(4), kept.Seq)
	require.Equal(t, map[string]string{"rfm": "promising"}, kept.Published)
}

func TestOutboxRepublished(t *testing.T) {
	h := newHarness(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	want := []byte(`{"id":"recorded-1","customer_id":"left behind","segmentation":"rfm","from":null,"to":"new"}`)
	st := state.State{}
	st.ID, st.FirstSeen, st.Published, st.Seq = "left behind", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), map[string]string{"rfm": "new"}, 1
	value, err := h.store.AppendValue(ctx, nil, &st)
	require.NoError(t, err)
	_, err = h.store.Write(ctx, &state.Batch{Topic: h.input(), Partition: 2, Records: []state.Record{{
		CustomerID: "left behind", Value: value, Offset: -1,
		Outbox: state.EncodeMessages(nil, []state.Message{{Topic: h.cfg.Topics.SegmentChanges, Value: want}}),
	}}})
	require.NoError(t, err)
	stop := h.start(t)
	testenv.Wait(t, time.Minute, func() bool {
		return len(kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges)) == 1
	})
	got := kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges)[0]
	require.Equal(t, "left behind", string(got.Key))
	require.Equal(t, want, got.Value)
	testenv.Wait(t, 10*time.Second, func() bool {
		box, err := h.store.Outbox(ctx, h.input(), 2)
		return err == nil && len(box) == 0
	})
	require.NoError(t, stop())
}
