package state_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/state"
)

func newStore(t testing.TB, cfg state.Config) (*state.Store, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t), DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	cfg.Prefix = testenv.Unique(t, "s")
	s, err := state.New(rdb, cfg)
	require.NoError(t, err)
	return s, rdb
}

var day0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC) // a Monday

func sale(id, cust string, t time.Time, cents int64) *events.Event {
	return &events.Event{ID: id, Type: events.TypePurchase, CustomerID: cust, Time: t,
		Purchase: events.Purchase{OrderID: "o" + id, Amount: cents, Currency: "USD"}}
}

func refund(id, cust string, t time.Time, cents int64) *events.Event {
	e := sale(id, cust, t, cents)
	e.Purchase.Refund = true
	return e
}

func apply(t *testing.T, s *state.Store, batch ...state.Apply) []state.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.ApplyBatch(ctx, batch, nil)
	require.NoError(t, err)
	require.Len(t, res, len(batch))
	return res
}

func at(e *events.Event, offset int64) state.Apply {
	return state.Apply{Event: e, Topic: "in", Partition: 3, Offset: offset}
}

func TestApplyExactlyOnce(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	c := "cust {1}"
	res := apply(t, s, at(sale("a", c, day0, 1050), 10), at(sale("b", c, day0.Add(48*time.Hour), 250), 11))
	require.Equal(t, state.Applied, res[0].Outcome)
	require.Equal(t, state.Applied, res[1].Outcome)
	require.Equal(t, int64(1300), res[1].Customer.Money)
	require.Equal(t, int64(2), res[1].Customer.Purchases)
	require.Equal(t, int64(2), res[1].Customer.PurchaseDays)

	// redelivery of an applied offset: no change
	res = apply(t, s, at(sale("a", c, day0, 1050), 10), at(sale("b", c, day0.Add(48*time.Hour), 250), 11))
	require.Equal(t, state.Redelivery, res[0].Outcome)
	require.Equal(t, state.Redelivery, res[1].Outcome)
	require.Equal(t, int64(1300), res[1].Customer.Money)

	// producer duplicate: same event id at a new offset
	res = apply(t, s, at(sale("a", c, day0, 1050), 12))
	require.Equal(t, state.Duplicate, res[0].Outcome)
	require.Equal(t, int64(1300), res[0].Customer.Money)
	require.Equal(t, int64(2), res[0].Customer.Purchases)

	// and the duplicate's offset is now applied too
	res = apply(t, s, at(sale("zzz", c, day0, 1), 12))
	require.Equal(t, state.Redelivery, res[0].Outcome)
}

func TestIDMemoryIsBounded(t *testing.T) {
	s, rdb := newStore(t, state.Config{IDMemory: 4})
	c := "bounded"
	for i := range 10 {
		apply(t, s, at(sale(fmt.Sprint("e", i), c, day0.Add(time.Duration(i)*time.Hour), 100), int64(i)))
	}
	ids, err := rdb.HGet(context.Background(), s.CustomerKey(c), "ids").Result()
	require.NoError(t, err)
	require.Len(t, ids, 4*8)
	// the 4 most recent ids are remembered, older ones are not
	res := apply(t, s, at(sale("e9", c, day0, 100), 100), at(sale("e6", c, day0, 100), 101), at(sale("e5", c, day0, 100), 102))
	require.Equal(t, state.Duplicate, res[0].Outcome)
	require.Equal(t, state.Duplicate, res[1].Outcome)
	require.Equal(t, state.Applied, res[2].Outcome, "ids beyond the memory are forgotten; the offset watermark covers redelivery")
}

func TestRefundsComplaintsContacts(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	c := "mixed"
	cp := func(id string, sev events.Severity, resolved bool, t time.Time) *events.Event {
		return &events.Event{ID: id, Type: events.TypeComplaint, CustomerID: c, Time: t,
			Complaint: events.Complaint{ComplaintID: "k", Severity: sev, Resolved: resolved}}
	}
	ct := func(id string, t time.Time) *events.Event {
		return &events.Event{ID: id, Type: events.TypeContact, CustomerID: c, Time: t,
			Contact: events.Contact{ContactID: id, Channel: "email"}}
	}
	e1 := sale("s1", c, day0, 10000)
	e1.Purchase.Margin, e1.Purchase.HasMargin = 3000, true
	r1 := refund("r1", c, day0.Add(time.Hour), 2500)
	r1.Purchase.Margin, r1.Purchase.HasMargin = 700, true
	res := apply(t, s,
		at(e1, 1), at(r1, 2),
		at(cp("c1", events.SeverityHigh, false, day0.Add(2*time.Hour)), 3),
		at(cp("c2", events.SeverityLow, false, day0.Add(3*time.Hour)), 4),
		at(cp("c3", events.SeverityHigh, true, day0.Add(4*time.Hour)), 5),
		state.Apply{Event: ct("k1", day0.Add(5*time.Hour)), Topic: "in", Partition: 3, Offset: 6, Response: true},
		at(ct("k2", day0.Add(6*time.Hour)), 7),
	)
	got := res[len(res)-1].Customer
	require.Equal(t, int64(7500), got.Money)
	require.Equal(t, int64(2300), got.Margin)
	require.Equal(t, int64(1), got.Refunds)
	require.Equal(t, int64(2500), got.RefundMoney)
	require.Equal(t, int64(1), got.Purchases)
	require.Equal(t, int64(2), got.Complaints)
	require.Equal(t, int64(0), got.OpenBySeverity[events.SeverityHigh])
	require.Equal(t, int64(1), got.OpenBySeverity[events.SeverityLow])
	require.Equal(t, int64(2), got.Contacts)
	require.Equal(t, int64(2), got.ContactsSinceLastPurchase)
	require.Equal(t, int64(1), got.Responses)
	require.Len(t, got.Window, 1)
	require.Equal(t, int64(1), got.Window[0].Count)
	require.Equal(t, int64(7500), got.Window[0].Money)
	require.Equal(t, int64(2300), got.Window[0].Margin)

	// a new sale resets contacts since last purchase
	res = apply(t, s, at(sale("s2", c, day0.Add(24*time.Hour), 100), 8))
	require.Equal(t, int64(0), res[0].Customer.ContactsSinceLastPurchase)
}

func TestLateEventsAndWindow(t *testing.T) {
	s, _ := newStore(t, state.Config{BucketDays: 7, WindowDays: 28})
	c := "late"
	res := apply(t, s, at(sale("new", c, day0, 500), 1), at(sale("old", c, day0.Add(-10*24*time.Hour), 300), 2))
	got := res[1].Customer
	require.True(t, got.LastPurchase.Equal(day0), "recency follows the latest event time, not arrival")
	require.True(t, got.FirstPurchase.Equal(day0.Add(-10*24*time.Hour)))
	require.Len(t, got.Window, 2)
	require.Less(t, got.Window[0].Day, got.Window[1].Day)

	// 40 days later the first two buckets have left the 28-day window
	res = apply(t, s, at(sale("later", c, day0.Add(40*24*time.Hour), 100), 3))
	got = res[0].Customer
	require.Len(t, got.Window, 1)
	require.Equal(t, int64(100), got.Window[0].Money)
	require.Equal(t, int64(900), got.Money, "lifetime money keeps what left the window")

	// an event older than the window counts in lifetime, not in a bucket
	res = apply(t, s, at(sale("ancient", c, day0.Add(-100*24*time.Hour), 7), 4))
	got = res[0].Customer
	require.Len(t, got.Window, 1)
	require.Equal(t, int64(907), got.Money)
	require.Equal(t, int64(4), got.Purchases)
}

func TestAnyCustomerID(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	ids := []string{"}", "{", "{}", "a}b{c", "  spaced  ", "émoji 🎉", strings.Repeat("x", 256), "null\x00byte"}
	for i, id := range ids {
		res := apply(t, s, at(sale(fmt.Sprint("id", i), id, day0, int64(i+1)), int64(i)))
		require.Equal(t, state.Applied, res[0].Outcome, "id %q", id)
		require.Equal(t, int64(i+1), res[0].Customer.Money, "id %q", id)
	}
	loaded, err := s.Load(context.Background(), ids)
	require.NoError(t, err)
	for i, l := range loaded {
		require.True(t, l.Found)
		require.Equal(t, ids[i], l.Customer.ID)
		require.Equal(t, int64(i+1), l.Customer.Money, "id %q", ids[i])
	}
}

func TestScriptReloadAfterFlush(t *testing.T) {
	s, rdb := newStore(t, state.Config{})
	apply(t, s, at(sale("x1", "flush", day0, 1), 1))
	require.NoError(t, rdb.ScriptFlush(context.Background()).Err())
	res := apply(t, s, at(sale("x2", "flush", day0, 1), 2))
	require.Equal(t, state.Applied, res[0].Outcome)
	require.Equal(t, int64(2), res[0].Customer.Money)
}

func TestRecordAndDue(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	ctx := context.Background()
	apply(t, s, at(sale("d1", "due-a", day0, 1), 1), at(sale("d2", "due-b", day0, 1), 2))
	require.NoError(t, s.RecordBatch(ctx, "in", 3, []state.Record{
		{CustomerID: "due-a", Published: map[string]string{"rfm": "new", "churn": "low"}, Seq: 2, Due: day0.Add(time.Hour)},
		{CustomerID: "due-b", Due: day0.Add(3 * time.Hour)},
	}))
	due, err := s.Due(ctx, "in", 3, day0.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"due-a"}, due)
	n, err := s.DueBacklog(ctx, "in", 3, day0.Add(4*time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	loaded, err := s.Load(ctx, []string{"due-a", "nobody"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"rfm": "new", "churn": "low"}, loaded[0].Customer.Published)
	require.Equal(t, int64(2), loaded[0].Customer.Seq)
	require.False(t, loaded[1].Found)

	require.NoError(t, s.RecordBatch(ctx, "in", 3, []state.Record{{CustomerID: "due-a"}}))
	due, err = s.Due(ctx, "in", 3, day0.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due, "a zero due time removes the customer from the index")
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  state.Config
		want string
	}{
		{state.Config{Prefix: "a{b"}, "redis.prefix"},
		{state.Config{IDMemory: 100}, "redis.id_memory"},
		{state.Config{BucketDays: -1}, "bucket_days"},
		{state.Config{BucketDays: 30, WindowDays: 7}, "window_days"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestOutbox(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	ctx := context.Background()
	msgs := []state.Message{{Topic: "seg", Value: []byte(`{"to":"new"}`)}, {Topic: "churn", Value: []byte{0, 1, 2}}}
	enc := state.EncodeMessages(nil, msgs)
	dec, err := state.DecodeMessages(enc)
	require.NoError(t, err)
	require.Equal(t, msgs, dec)
	_, err = state.DecodeMessages(enc[:len(enc)-1])
	require.Error(t, err)

	require.NoError(t, s.RecordBatch(ctx, "in", 1, []state.Record{
		{CustomerID: "a {1}", Outbox: enc, Published: map[string]string{"rfm": "new"}, Seq: 1},
		{CustomerID: "b", Published: map[string]string{"rfm": "lost"}, Seq: 3},
	}))
	box, err := s.Outbox(ctx, "in", 1)
	require.NoError(t, err)
	require.Equal(t, map[string][]state.Message{"a {1}": msgs}, box)
	require.NoError(t, s.ClearOutbox(ctx, "in", 1, []string{"a {1}"}))
	box, err = s.Outbox(ctx, "in", 1)
	require.NoError(t, err)
	require.Empty(t, box)
}
