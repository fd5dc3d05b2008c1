package state_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/state"
)

// sourced sets e's source and source_seq.
func sourced(e *events.Event, source string, seq int64) *events.Event {
	e.Source, e.SourceSeq = source, seq
	return e
}

// TestApplySourceSeq: the events of a source are applied once each however
// many there are, beyond the id memory and at new offsets, i.e. when the
// source publishes them again.
func TestApplySourceSeq(t *testing.T) {
	s, rdb := newStore(t, state.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := "long history"
	history := func(i int) *events.Event {
		e := sale(fmt.Sprint("h", i), c, day0.Add(time.Duration(i)*24*time.Hour), int64(100+i))
		return sourced(e, "history", int64(1000*(i+1)))
	}
	// raw is the customer's hash without the watermark, which duplicates
	// advance
	raw := func() map[string]string {
		m, err := rdb.HGetAll(ctx, s.CustomerKey(c)).Result()
		require.NoError(t, err)
		delete(m, state.WatermarkField("in", 3))
		return m
	}

	const n = 30
	var first []state.Apply
	for i := range n {
		first = append(first, at(history(i), int64(i+1)))
	}
	for i, r := range apply(t, s, first...) {
		require.Equal(t, state.Applied, r.Outcome, "event %d", i)
	}
	hash := raw()
	require.Equal(t, fmt.Sprint(1000*n), hash[state.SourceField("history")])
	loaded, err := s.Load(ctx, []string{c})
	require.NoError(t, err)
	want := loaded[0].Customer
	require.Equal(t, int64(n), want.Purchases)

	// all of them again at new offsets (not redeliveries): all duplicates,
	// and nothing but the watermark changes
	var again []state.Apply
	for i := range n {
		again = append(again, at(history(i), int64(101+i)))
	}
	for i, r := range apply(t, s, again...) {
		require.Equal(t, state.Duplicate, r.Outcome, "event %d", i)
		require.Equal(t, want.Money, r.Customer.Money, "event %d", i)
	}
	require.Equal(t, hash, raw())
	wm, err := rdb.HGet(ctx, s.CustomerKey(c), state.WatermarkField("in", 3)).Result()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(100+n), wm, "duplicates advance the watermark")
	loaded, err = s.Load(ctx, []string{c})
	require.NoError(t, err)
	require.Equal(t, want, loaded[0].Customer)

	// an event never seen before but at or below the highest seq is taken
	// as applied already
	old := sourced(sale("other id", c, day0, 5), "history", 1500)
	require.Equal(t, state.Duplicate, apply(t, s, at(old, 200))[0].Outcome)
	require.Equal(t, hash, raw())

	// a later one is applied and raises the seq
	next := sourced(sale("h-next", c, day0.Add(40*24*time.Hour), 7), "history", 1000*n+1)
	res := apply(t, s, at(next, 201))
	require.Equal(t, state.Applied, res[0].Outcome)
	require.Equal(t, want.Money+7, res[0].Customer.Money)
	require.Equal(t, int64(n+1), res[0].Customer.Purchases)
	require.Equal(t, fmt.Sprint(1000*n+1), raw()[state.SourceField("history")])

	// the id memory still applies to sourced events
	dup := sourced(sale("h-next", c, day0.Add(41*24*time.Hour), 7), "history", 1000*n+2)
	require.Equal(t, state.Duplicate, apply(t, s, at(dup, 202))[0].Outcome)
}

// TestApplySourcesIndependent: each source has its own seq, and events
// without a source are not affected by any.
func TestApplySourcesIndependent(t *testing.T) {
	s, rdb := newStore(t, state.Config{})
	ctx := t.Context()
	c := "two sources"
	res := apply(t, s,
		at(sourced(sale("a1", c, day0, 100), "shop-a", 50), 1),
		at(sourced(sale("b1", c, day0, 10), "shop-b", 1), 2),    // lower seq, other source
		at(sale("x1", c, day0, 1), 3),                           // no source
		at(sourced(sale("b2", c, day0, 20), "shop-b", 2), 4),    // higher in b
		at(sourced(sale("a0", c, day0, 1000), "shop-a", 49), 5), // lower in a: duplicate
		at(sale("x2", c, day0, 2), 6),                           // no source, new id: applied
	)
	outcomes := make([]state.Outcome, len(res))
	for i, r := range res {
		outcomes[i] = r.Outcome
	}
	require.Equal(t, []state.Outcome{state.Applied, state.Applied, state.Applied, state.Applied, state.Duplicate, state.Applied}, outcomes)
	require.Equal(t, int64(133), res[len(res)-1].Customer.Money)

	hash, err := rdb.HGetAll(ctx, s.CustomerKey(c)).Result()
	require.NoError(t, err)
	require.Equal(t, map[string]string{state.SourceField("shop-a"): "50", state.SourceField("shop-b"): "2"},
		maps.Collect(func(yield func(string, string) bool) {
			for f, v := range hash {
				if f[0] == 'q' && !yield(f, v) {
					return
				}
			}
		}))
}

// TestApplySourceEveryType: the source's arguments follow the type's, which
// differ in number.
func TestApplySourceEveryType(t *testing.T) {
	s, _ := newStore(t, state.Config{IDMemory: 1})
	c := "typed"
	complaint := func(id string, seq int64) *events.Event {
		return sourced(&events.Event{ID: id, Type: events.TypeComplaint, CustomerID: c, Time: day0,
			Complaint: events.Complaint{ComplaintID: id, Severity: events.SeverityHigh}}, "crm", seq)
	}
	contact := func(id string, seq int64) *events.Event {
		return sourced(&events.Event{ID: id, Type: events.TypeContact, CustomerID: c, Time: day0,
			Contact: events.Contact{ContactID: id, Channel: "email"}}, "crm", seq)
	}
	back := func(id string, seq int64) *events.Event { return sourced(refund(id, c, day0, 100), "crm", seq) }
	batch := []state.Apply{
		at(complaint("c1", 1), 1), at(contact("k1", 2), 2), at(back("r1", 3), 3),
		// the same seqs again under other ids, at new offsets: only the
		// source's seq can catch them
		at(complaint("c2", 1), 4), at(contact("k2", 2), 5), at(back("r2", 3), 6),
	}
	res := apply(t, s, batch...)
	outcomes := make([]state.Outcome, len(res))
	for i, r := range res {
		outcomes[i] = r.Outcome
	}
	require.Equal(t, []state.Outcome{state.Applied, state.Applied, state.Applied, state.Duplicate, state.Duplicate, state.Duplicate}, outcomes)
	got := res[len(res)-1].Customer
	require.Equal(t, int64(1), got.Complaints)
	require.Equal(t, int64(1), got.Contacts)
	require.Equal(t, int64(1), got.Refunds)
}
