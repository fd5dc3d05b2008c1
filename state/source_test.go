package state_test

import (
	"fmt"
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
// many there are, beyond the id memory and the dedupe window and at new
// offsets, i.e. when the source publishes them again.
func TestApplySourceSeq(t *testing.T) {
	c := "long history"
	history := func(i int) *events.Event {
		e := sale(fmt.Sprint("h", i), c, day0.Add(time.Duration(i)*24*time.Hour), int64(100+i))
		return sourced(e, "history", int64(1000*(i+1)))
	}
	r := rules()
	r.MaxRecent = 8
	var s state.State
	const n = 30
	for i := range n {
		require.NoError(t, run(t, &s, r, at(history(i), int64(i+1))))
	}
	require.Equal(t, []state.SourceSeq{{Source: "history", Seq: 1000 * n}}, s.Sources)
	require.Equal(t, int64(n), s.Purchases)
	require.Less(t, len(s.Recent), n, "most ids are forgotten")
	money := s.Money

	// all of them again at new offsets (not redeliveries): all duplicates,
	// and nothing but the watermark changes (run checks that)
	for i := range n {
		require.NoError(t, run(t, &s, r, at(history(i), int64(101+i)).is(state.Duplicate)))
	}
	require.Equal(t, int64(100+n), offsetOf(&s, in3), "duplicates advance the watermark")

	// an event never seen before but at or below the highest seq is taken
	// as applied already
	require.NoError(t, run(t, &s, r, at(sourced(sale("other id", c, day0, 5), "history", 1500), 200).is(state.Duplicate)))

	// a later one is applied and raises the seq
	require.NoError(t, run(t, &s, r, at(sourced(sale("h-next", c, day0.Add(40*24*time.Hour), 7), "history", 1000*n+1), 201)))
	require.Equal(t, money+7, s.Money)
	require.Equal(t, int64(n+1), s.Purchases)
	require.Equal(t, []state.SourceSeq{{Source: "history", Seq: 1000*n + 1}}, s.Sources)

	// the id memory still applies to sourced events
	require.NoError(t, run(t, &s, r, at(sourced(sale("h-next", c, day0.Add(41*24*time.Hour), 7), "history", 1000*n+2), 202).is(state.Duplicate)))
	require.Equal(t, int64(1000*n+1), s.Sources[0].Seq, "a duplicate does not raise the seq")
}

// TestApplySourcesIndependent: each source has its own seq, and events
// without a source are not affected by any.
func TestApplySourcesIndependent(t *testing.T) {
	c := "two sources"
	var s state.State
	require.NoError(t, run(t, &s, rules(),
		at(sourced(sale("a1", c, day0, 100), "shop-a", 50), 1),
		at(sourced(sale("b1", c, day0, 10), "shop-b", 1), 2), // lower seq, other source
		at(sale("x1", c, day0, 1), 3),                        // no source
		at(sourced(sale("b2", c, day0, 20), "shop-b", 2), 4), // higher in b
		at(sourced(sale("a0", c, day0, 1000), "shop-a", 49), 5).is(state.Duplicate),
		at(sourced(sale("a2", c, day0, 1000), "shop-a", 50), 6).is(state.Duplicate), // equal is a duplicate too
		at(sale("x2", c, day0, 2), 7),                                               // no source, new id: applied
	))
	require.Equal(t, int64(133), s.Money)
	require.Equal(t, []state.SourceSeq{{Source: "shop-a", Seq: 50}, {Source: "shop-b", Seq: 2}}, s.Sources)
}

// TestApplySourceEveryType: a source's seq is kept whatever the type of
// its events.
func TestApplySourceEveryType(t *testing.T) {
	c := "typed"
	r := rules()
	r.MaxRecent = 1
	cp := func(id string, seq int64) *events.Event {
		return sourced(complaint(id, c, day0, events.SeverityHigh, false), "crm", seq)
	}
	ct := func(id string, seq int64) *events.Event { return sourced(contact(id, c, day0), "crm", seq) }
	back := func(id string, seq int64) *events.Event { return sourced(refund(id, c, day0, 100), "crm", seq) }
	buy := func(id string, seq int64) *events.Event { return sourced(sale(id, c, day0, 100), "crm", seq) }
	var s state.State
	require.NoError(t, run(t, &s, r,
		at(cp("c1", 1), 1), at(ct("k1", 2), 2), at(back("r1", 3), 3), at(buy("s1", 4), 4),
		// the same seqs again under other ids, at new offsets: only the
		// source's seq can catch them
		at(cp("c2", 1), 5).is(state.Duplicate), at(ct("k2", 2), 6).is(state.Duplicate),
		at(back("r2", 3), 7).is(state.Duplicate), at(buy("s2", 4), 8).is(state.Duplicate),
	))
	require.Equal(t, int64(1), s.Complaints)
	require.Equal(t, int64(1), s.Contacts)
	require.Equal(t, int64(1), s.Refunds)
	require.Equal(t, int64(1), s.Purchases)
}

// TestApplySourceRejected: a rejected event does not raise its source's
// seq, so the source can publish it again once it fits.
func TestApplySourceRejected(t *testing.T) {
	var s state.State
	s.Money = 1 << 62
	err := run(t, &s, rules(), at(sourced(sale("a", "c", day0, 1<<62), "src", 7), 1).is(state.Rejected))
	require.Equal(t, events.ReasonOverflow, events.ReasonOf(err))
	require.Empty(t, s.Sources)
	require.NoError(t, run(t, &s, rules(),
		at(sourced(refund("r", "c", day0, 1<<62), "src", 6), 2),
		at(sourced(sale("a", "c", day0, 1<<62), "src", 7), 3),
	))
	require.Equal(t, int64(1<<62), s.Money)
	require.Equal(t, []state.SourceSeq{{Source: "src", Seq: 7}}, s.Sources)
}
