package state_test

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/state"
)

var fuzzNames = newDict("a", "b")

var (
	fuzzAmounts = []int64{1, 99, 4599, 1<<53 + 1, 1 << 62, math.MaxInt64 / 2, math.MaxInt64, 5e18}
	fuzzMargins = []int64{0, 1, -7, 1 << 62, math.MinInt64, math.MaxInt64, -(1 << 62), 1500}
	fuzzParts   = []state.PartitionID{state.PartitionOf("in", 0), state.PartitionOf("in", 1), state.PartitionOf("other", 0)}
)

// fuzzModel is what a sequence of applied events must have summed, in
// arbitrary precision.
type fuzzModel struct {
	money, margin, refundMoney               big.Int
	purchases, refunds, complaints, contacts int64
	responses                                int64
	watermarks                               map[state.PartitionID]int64
	sources                                  map[string]int64
}

// FuzzApply applies sequences of events decoded from the fuzz input and
// checks what holds whatever the events: a redelivery changes nothing, a
// duplicate or a rejected event only the watermark, an applied event adds
// exactly its amounts (no wrap-around), an event remembered is never
// applied twice, the memory and the window stay bounded, a second apply of
// the same message is a redelivery, and the value codec round-trips.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 3, 10, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0})
	f.Add([]byte{6, 20, 200, 2, 0, 1, 24, 4, 4, 8, 1, 1, 48, 4, 4, 8, 2, 2, 0, 5, 5, 1, 4, 0, 0, 3, 4, 1, 4, 1, 255, 0})
	f.Add([]byte{1, 1, 1, 1, 0, 7, 1, 6, 0, 10, 0, 7, 1, 6, 4, 10, 1, 8, 1, 7, 4, 14, 3, 9, 1, 7, 8, 11})
	f.Add(bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 200, 100}, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		r := &state.Rules{
			BucketDays:   1 + int64(b[0]%10),
			DedupeWindow: time.Duration(1+int(b[2])) * time.Hour,
			MaxRecent:    1 + int(b[3]%8),
		}
		r.WindowDays = r.BucketDays + int64(b[1]%60)
		b = b[4:]
		s := state.State{}
		s.ID = "f"
		m := fuzzModel{watermarks: map[state.PartitionID]int64{}, sources: map[string]int64{}}
		now := day0
		for i := 0; len(b) >= 6; i++ {
			op, idb, dt, amt, pb, src := b[0], b[1], int8(b[2]), b[3], b[4], b[5]
			b = b[6:]
			scale := time.Hour
			if op&0x80 != 0 {
				scale = 24 * time.Hour
			}
			now = now.Add(time.Duration(dt) * scale)
			e := &events.Event{ID: fmt.Sprint("e", idb%32), CustomerID: "f", Time: now}
			switch op % 6 {
			case 0, 1:
				e.Type = events.TypePurchase
				e.Purchase = events.Purchase{Amount: fuzzAmounts[amt%8], Margin: fuzzMargins[amt>>4%8], Refund: op%6 == 1}
				e.Purchase.HasMargin = e.Purchase.Margin != 0
			case 2, 3:
				e.Type = events.TypeComplaint
				e.Complaint = events.Complaint{ComplaintID: "k", Severity: events.Severity(1 + amt%4), Resolved: op%6 == 3}
			default:
				e.Type = events.TypeContact
				e.Contact = events.Contact{ContactID: "x", Channel: "email"}
			}
			if src%4 >= 2 {
				e.Source, e.SourceSeq = []string{"a", "b"}[src%2], 1+int64(src>>2)
			}
			p := fuzzParts[int(pb)%len(fuzzParts)]
			in := &state.Input{Event: e, Partition: p, Offset: max(0, m.watermarks[p]+int64(pb>>2)%5-1), Response: op%6 == 5}
			fuzzStep(t, &s, in, r, &m)
		}
	})
}

func fuzzStep(t *testing.T, s *state.State, in *state.Input, r *state.Rules, m *fuzzModel) {
	e := in.Event
	before := clone(s)
	wm, hasWM := m.watermarks[in.Partition]
	out, rep, err := state.Apply(s, in, r)
	msg := fmt.Sprintf("%s of %+v at %d: %v", out, *e, in.Offset, err)
	if out == state.Rejected {
		require.Equal(t, events.ReasonOverflow, events.ReasonOf(err), msg)
	} else {
		require.NoError(t, err, msg)
	}
	h := xxhash.Sum64String(e.ID)
	remembered := slices.ContainsFunc(before.Recent, func(id state.RecentID) bool { return id.Hash == h })
	switch {
	case hasWM && in.Offset <= wm:
		require.Equal(t, state.Redelivery, out, msg)
		require.Equal(t, before, clone(s), msg)
		return
	case remembered:
		require.Equal(t, state.Duplicate, out, "an id in the memory is a duplicate: "+msg)
	case e.Source != "" && e.SourceSeq <= m.sources[e.Source] && m.sources[e.Source] > 0:
		require.Equal(t, state.Duplicate, out, "a source_seq at or below the highest: "+msg)
	default:
		require.Contains(t, []state.Outcome{state.Applied, state.Rejected}, out, msg)
	}
	if out == state.Rejected {
		require.True(t, overflows(&before, e), "rejected without an overflow: %s", msg)
	}
	m.watermarks[in.Partition] = in.Offset
	require.Equal(t, in.Offset, offsetOf(s, in.Partition), msg)
	if out != state.Applied {
		before.Watermarks = s.Watermarks
		require.Equal(t, before, clone(s), "only the watermark moves: "+msg)
	} else {
		m.apply(in)
		require.False(t, rep.Forgotten > 0 && len(s.Recent) != r.MaxRecent, "ids are forgotten early only when the memory is full: %s", msg)
	}
	m.check(t, s, r, msg)

	// the same message again is a redelivery and changes nothing
	v1, err := state.AppendValue(nil, s, fuzzNames)
	require.NoError(t, err)
	again := clone(s)
	out, _, err = state.Apply(s, in, r)
	require.NoError(t, err)
	require.Equal(t, state.Redelivery, out, msg)
	require.Equal(t, again, clone(s), msg)
	v2, err := state.AppendValue(nil, s, fuzzNames)
	require.NoError(t, err)
	require.Equal(t, v1, v2, msg)

	// and the value round-trips
	var dec state.State
	require.NoError(t, state.DecodeValue(s.ID, v1, &dec, fuzzNames), msg)
	require.Equal(t, clone(s), dec, msg)
}

// overflows reports whether a purchase takes a lifetime sum, or the sum
// of one of the customer's buckets, past the int64 range.
func overflows(s *state.State, e *events.Event) bool {
	if e.Type != events.TypePurchase {
		return false
	}
	amt, mg := big.NewInt(e.Purchase.Amount), big.NewInt(e.Purchase.Margin)
	out := func(a int64, d *big.Int) bool {
		var sum big.Int
		return !sum.Add(big.NewInt(a), d).IsInt64()
	}
	if e.Purchase.Refund {
		if out(s.RefundMoney, amt) {
			return true
		}
		amt.Neg(amt)
		mg.Neg(mg)
		if !mg.IsInt64() {
			return true
		}
	}
	if out(s.Money, amt) || out(s.Margin, mg) {
		return true
	}
	for _, b := range s.Window {
		if out(b.Money, amt) || out(b.Margin, mg) {
			return true
		}
	}
	return false
}

func (m *fuzzModel) apply(in *state.Input) {
	e := in.Event
	switch e.Type {
	case events.TypePurchase:
		amt, mg := big.NewInt(e.Purchase.Amount), big.NewInt(e.Purchase.Margin)
		if e.Purchase.Refund {
			m.refunds++
			m.refundMoney.Add(&m.refundMoney, amt)
			amt.Neg(amt)
			mg.Neg(mg)
		} else {
			m.purchases++
		}
		m.money.Add(&m.money, amt)
		m.margin.Add(&m.margin, mg)
	case events.TypeComplaint:
		if !e.Complaint.Resolved {
			m.complaints++
		}
	case events.TypeContact:
		m.contacts++
		if in.Response {
			m.responses++
		}
	}
	if e.Source != "" {
		m.sources[e.Source] = e.SourceSeq
	}
}

func (m *fuzzModel) check(t *testing.T, s *state.State, r *state.Rules, msg string) {
	for _, f := range []struct {
		name string
		want *big.Int
		got  int64
	}{{"money", &m.money, s.Money}, {"margin", &m.margin, s.Margin}, {"refunded money", &m.refundMoney, s.RefundMoney}} {
		require.True(t, f.want.IsInt64(), "%s %s left the range and was applied: %s", f.name, f.want, msg)
		require.Equal(t, f.want.Int64(), f.got, "%s: %s", f.name, msg)
	}
	require.Equal(t, m.purchases, s.Purchases, msg)
	require.Equal(t, m.refunds, s.Refunds, msg)
	require.Equal(t, m.complaints, s.Complaints, msg)
	require.Equal(t, m.contacts, s.Contacts, msg)
	require.Equal(t, m.responses, s.Responses, msg)
	require.LessOrEqual(t, s.ContactsSinceLastPurchase, s.Contacts, msg)
	require.LessOrEqual(t, s.PurchaseDays, s.Purchases, msg)
	if s.Purchases > 0 {
		require.Positive(t, s.PurchaseDays, msg)
		require.False(t, s.LastPurchase.Before(s.FirstPurchase), msg)
	}
	require.False(t, s.LastEvent.Before(s.FirstSeen), msg)
	var open int64
	for _, n := range s.OpenBySeverity {
		require.GreaterOrEqual(t, n, int64(0), msg)
		open += n
	}
	require.LessOrEqual(t, open, s.Complaints, msg)

	wms := map[state.PartitionID]int64{}
	for _, w := range s.Watermarks {
		_, dup := wms[w.Partition]
		require.False(t, dup, "one watermark per partition: %s", msg)
		wms[w.Partition] = w.Offset
	}
	require.Equal(t, m.watermarks, wms, msg)
	srcs := map[string]int64{}
	for _, q := range s.Sources {
		srcs[q.Source] = q.Seq
	}
	require.Equal(t, m.sources, srcs, msg)

	require.LessOrEqual(t, len(s.Recent), r.MaxRecent, msg)
	cut := s.LastEvent.Unix() - int64(r.DedupeWindow/time.Second)
	hashes := map[uint64]bool{}
	for _, id := range s.Recent {
		require.GreaterOrEqual(t, id.Time, cut, "an id older than the window: %s", msg)
		require.False(t, hashes[id.Hash], "an id remembered twice: %s", msg)
		hashes[id.Hash] = true
	}

	require.LessOrEqual(t, len(s.Window), int(r.WindowDays/r.BucketDays+2), msg)
	var count int64
	for i, b := range s.Window {
		require.Zero(t, b.Day%r.BucketDays, msg)
		if i > 0 {
			require.Less(t, s.Window[i-1].Day, b.Day, msg)
		}
		count += b.Count
	}
	require.LessOrEqual(t, count, s.Purchases, msg)
}
