package processor_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/synth"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// A deployment whose state release 1 wrote (a hash per customer, no
// checkpoints, no name dictionary) keeps working: the first half of a
// stream is processed, its state rewritten in release 1's layout (as
// state/doc.go documents it) with the checkpoints and names removed, and
// the second half processed by this release. The final state is exact, the
// segment-change chains unbroken, and every customer the second half
// touched is stored in the current form.
func TestUpgradeFromRelease1(t *testing.T) {
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(120 * 24 * time.Hour)
	h := newHarness(t, now)
	s := synth.Generate(synth.Options{Seed: 13, Customers: 300, Events: 4000, DupRate: 0.05, Bad: 5,
		Start: start, Span: 110 * 24 * time.Hour, IDPrefix: "upgrade-"})
	half := len(s.Messages) / 2
	h.produce(t, s.Messages[:half])
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	ctx := context.Background()
	ids := make([]string, 0, len(s.Expected))
	for id := range s.Expected {
		ids = append(ids, id)
	}
	loaded, err := h.store.Load(ctx, ids)
	require.NoError(t, err)
	legacy := 0
	for i, id := range ids {
		if !loaded[i].Found {
			continue
		}
		writeRelease1(t, h.rdb, h.store.CustomerKey(id), &loaded[i].State, h.input())
		legacy++
	}
	require.Positive(t, legacy)
	for p := range 4 {
		require.NoError(t, h.rdb.Del(ctx, h.store.CheckpointKey(h.input(), p)).Err())
	}
	require.NoError(t, h.rdb.Del(ctx, h.store.NamesKey()).Err())

	// a fresh store: no names in memory, as after an upgrade
	fresh, err := state.New(h.rdb, h.store.Config())
	require.NoError(t, err)
	h.store = fresh
	h.produce(t, s.Messages[half:])
	stop = h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	require.NoError(t, stop())

	final := synth.CheckState(t, h.store, s)
	synth.CheckTransitions(t, h.engine, h.now, kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges), final)
	touched := map[string]bool{}
	for _, m := range s.Messages[half:] {
		touched[m.Key] = true
	}
	strings := 0
	for id := range touched {
		if _, ok := s.Expected[id]; !ok {
			continue // a malformed message's key
		}
		typ := h.rdb.Type(ctx, h.store.CustomerKey(id)).Val()
		require.Equal(t, "string", typ, "customer %q", id)
		strings++
	}
	require.Positive(t, strings)
	for p := range 4 {
		ck, err := h.store.ReadCheckpoint(ctx, h.input(), p)
		require.NoError(t, err)
		require.Positive(t, ck.Offset, "partition %d has a checkpoint after the upgrade", p)
	}
}

// writeRelease1 replaces a customer's value by the hash release 1 wrote
// for the same state.
func writeRelease1(t *testing.T, rdb redis.UniversalClient, key string, st *state.State, topic string) {
	t.Helper()
	c := &st.Customer
	f := map[string]any{}
	unix := func(name string, v time.Time) {
		if !v.IsZero() {
			f[name] = v.Unix()
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			f[name] = v
		}
	}
	unix("fs", c.FirstSeen)
	unix("le", c.LastEvent)
	unix("fp", c.FirstPurchase)
	unix("lp", c.LastPurchase)
	unix("lc", c.LastComplaint)
	unix("lk", c.LastContact)
	num("n", c.Purchases)
	num("pd", c.PurchaseDays)
	num("m", c.Money)
	num("mg", c.Margin)
	num("rf", c.Refunds)
	num("rm", c.RefundMoney)
	num("ct", c.Complaints)
	for sev := 1; sev <= 4; sev++ {
		num("c"+strconv.Itoa(sev), c.OpenBySeverity[sev])
	}
	num("k", c.Contacts)
	num("kc", c.ContactsSinceLastPurchase)
	num("kr", c.Responses)
	num("seq", c.Seq)
	for _, b := range c.Window {
		v := strconv.FormatInt(b.Count, 10) + ":" + strconv.FormatInt(b.Money, 10)
		if b.Margin != 0 {
			v += ":" + strconv.FormatInt(b.Margin, 10)
		}
		f[strconv.FormatInt(b.Day, 10)] = v
	}
	for _, w := range st.Watermarks {
		for p := range 4 {
			if state.PartitionOf(topic, p) == w.Partition {
				f[state.WatermarkField(topic, p)] = w.Offset
			}
		}
	}
	ids := make([]byte, 0, 8*len(st.Recent))
	for _, r := range st.Recent[:min(len(st.Recent), 8)] {
		ids = binary.BigEndian.AppendUint64(ids, r.Hash)
	}
	f["ids"] = string(ids)
	for _, q := range st.Sources {
		f[state.SourceField(q.Source)] = q.Seq
	}
	for k, v := range c.Published {
		f["p:"+k] = v
	}
	if c.Scores != [4]int8{} {
		b := make([]byte, 4)
		for i, x := range c.Scores {
			b[i] = byte('0' + x)
		}
		f["sc"] = string(b)
	}
	if c.Contrib != (scoring.Contrib{}) {
		f["cb"] = c.Contrib.String()
	}
	ctx := context.Background()
	require.NoError(t, rdb.Del(ctx, key).Err())
	require.NoError(t, rdb.HSet(ctx, key, f).Err())
}
