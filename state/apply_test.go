package state_test

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

var day0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC) // a Monday

// in3 is the input partition most tests read from.
var in3 = state.PartitionOf("in", 3)

// rules are the store's defaults.
func rules() *state.Rules {
	return &state.Rules{BucketDays: 7, WindowDays: 365, DedupeWindow: 7 * 24 * time.Hour, MaxRecent: 64}
}

func sale(id, cust string, t time.Time, cents int64) *events.Event {
	return &events.Event{ID: id, Type: events.TypePurchase, CustomerID: cust, Time: t,
		Purchase: events.Purchase{OrderID: "o" + id, Amount: cents, Currency: "USD"}}
}

func refund(id, cust string, t time.Time, cents int64) *events.Event {
	e := sale(id, cust, t, cents)
	e.Purchase.Refund = true
	return e
}

func complaint(id, cust string, t time.Time, sev events.Severity, resolved bool) *events.Event {
	return &events.Event{ID: id, Type: events.TypeComplaint, CustomerID: cust, Time: t,
		Complaint: events.Complaint{ComplaintID: "k" + id, Severity: sev, Resolved: resolved}}
}

func contact(id, cust string, t time.Time) *events.Event {
	return &events.Event{ID: id, Type: events.TypeContact, CustomerID: cust, Time: t,
		Contact: events.Contact{ContactID: "x" + id, Channel: "email"}}
}

// step is one event applied in a test, with the outcome it must have.
type step struct {
	e        *events.Event
	part     state.PartitionID
	off      int64
	response bool
	want     state.Outcome
}

// at is e read from partition in3 at offset off, expected to apply.
func at(e *events.Event, off int64) step { return step{e: e, part: in3, off: off} }

func (s step) is(o state.Outcome) step     { s.want = o; return s }
func (s step) on(p state.PartitionID) step { s.part = p; return s }
func (s step) responded() step             { s.response = true; return s }
func (s step) input() *state.Input {
	return &state.Input{Event: s.e, Partition: s.part, Offset: s.off, Response: s.response}
}
func offsetOf(s *state.State, p state.PartitionID) int64 {
	for _, w := range s.Watermarks {
		if w.Partition == p {
			return w.Offset
		}
	}
	return -1
}

// clone deep-copies s.
func clone(s *state.State) state.State {
	c := *s
	c.Window = slices.Clone(s.Window)
	c.Published = maps.Clone(s.Published)
	c.Watermarks = slices.Clone(s.Watermarks)
	c.Recent = slices.Clone(s.Recent)
	c.Sources = slices.Clone(s.Sources)
	return c
}

// run applies the steps to s and checks each outcome, and that what does
// not apply changes nothing (a redelivery) or only the watermark (a
// duplicate, a rejected event). It returns the last step's error.
func run(t *testing.T, s *state.State, r *state.Rules, steps ...step) error {
	t.Helper()
	var last error
	for i, st := range steps {
		before := clone(s)
		out, _, err := state.Apply(s, st.input(), r)
		last = err
		require.Equal(t, st.want, out, "step %d (event %q at %d): %v", i, st.e.ID, st.off, err)
		if out == state.Rejected {
			require.Error(t, err, "step %d", i)
		} else {
			require.NoError(t, err, "step %d", i)
		}
		switch out {
		case state.Redelivery:
			require.Equal(t, before, clone(s), "step %d: a redelivery changes nothing", i)
		case state.Duplicate, state.Rejected:
			require.Equal(t, st.off, offsetOf(s, st.part), "step %d: the watermark moves", i)
			before.Watermarks = s.Watermarks
			require.Equal(t, before, clone(s), "step %d: only the watermark moves", i)
		case state.Applied:
			require.Equal(t, st.off, offsetOf(s, st.part), "step %d", i)
		}
	}
	return last
}

func TestApplyExactlyOnce(t *testing.T) {
	other := state.PartitionOf("in", 4)
	otherTopic := state.PartitionOf("in2", 3)
	require.NotEqual(t, in3, other)
	require.NotEqual(t, in3, otherTopic)
	for _, tc := range []struct {
		name  string
		steps []step
		check func(t *testing.T, s *state.State)
	}{{
		name: "redelivery of the applied offsets",
		steps: []step{
			at(sale("a", "c", day0, 1050), 10), at(sale("b", "c", day0.Add(48*time.Hour), 250), 11),
			at(sale("a", "c", day0, 1050), 10).is(state.Redelivery), at(sale("b", "c", day0.Add(48*time.Hour), 250), 11).is(state.Redelivery),
		},
		check: func(t *testing.T, s *state.State) {
			require.Equal(t, int64(1300), s.Money)
			require.Equal(t, int64(2), s.Purchases)
			require.Equal(t, int64(2), s.PurchaseDays)
		},
	}, {
		name: "an earlier offset is a redelivery whatever its event",
		steps: []step{
			at(sale("a", "c", day0, 1), 10),
			at(sale("never seen", "c", day0, 5), 9).is(state.Redelivery),
			at(sale("never seen", "c", day0, 5), 0).is(state.Redelivery),
		},
		check: func(t *testing.T, s *state.State) { require.Equal(t, int64(1), s.Money) },
	}, {
		name: "a producer duplicate at a new offset advances the watermark",
		steps: []step{
			at(sale("a", "c", day0, 1050), 10),
			at(sale("a", "c", day0, 1050), 12).is(state.Duplicate),
			at(sale("zzz", "c", day0, 1), 12).is(state.Redelivery),
			at(sale("zzz", "c", day0, 1), 13),
		},
		check: func(t *testing.T, s *state.State) {
			require.Equal(t, int64(1051), s.Money)
			require.Equal(t, []state.Watermark{{Partition: in3, Offset: 13}}, s.Watermarks)
		},
	}, {
		name: "partitions have their own watermarks",
		steps: []step{
			at(sale("a", "c", day0, 1), 100),
			at(sale("b", "c", day0, 2), 5).on(other),
			at(sale("c", "c", day0, 4), 5).on(otherTopic),
			at(sale("d", "c", day0, 8), 101),
			at(sale("b", "c", day0, 2), 5).on(other).is(state.Redelivery),
			at(sale("e", "c", day0, 16), 6).on(other),
		},
		check: func(t *testing.T, s *state.State) {
			require.Equal(t, int64(31), s.Money)
			require.ElementsMatch(t, []state.Watermark{{Partition: in3, Offset: 101}, {Partition: other, Offset: 6}, {Partition: otherTopic, Offset: 5}}, s.Watermarks)
		},
	}, {
		name: "offset 0 of a new partition applies",
		steps: []step{
			at(sale("a", "c", day0, 1), 0),
			at(sale("a", "c", day0, 1), 0).is(state.Redelivery),
		},
		check: func(t *testing.T, s *state.State) { require.Equal(t, int64(1), s.Money) },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			require.NoError(t, run(t, &s, rules(), tc.steps...))
			tc.check(t, &s)
		})
	}
}

// TestApplyDuplicateWithinWindow: a producer duplicate is caught however
// many events came in between, as long as the customer's latest event is
// within the dedupe window of the original; past it the id is forgotten.
func TestApplyDuplicateWithinWindow(t *testing.T) {
	const week = 7 * 24 * time.Hour
	for _, tc := range []struct {
		name    string
		between int
		gap     time.Duration // between consecutive events
		want    state.Outcome
	}{
		{"right after", 0, 0, state.Duplicate},
		{"20 events later", 20, time.Hour, state.Duplicate},
		{"63 events later", 63, time.Minute, state.Duplicate},
		{"the latest event at the window's edge", 1, week, state.Duplicate},
		{"the latest event a second past the window", 1, week + time.Second, state.Applied},
		{"30 events later, past the window", 30, 6 * time.Hour, state.Applied},
		{"late events in between do not age it", 40, -time.Hour, state.Duplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			steps := []step{at(sale("orig", "c", day0, 100), 1)}
			for i := range tc.between {
				e := contact(fmt.Sprint("k", i), "c", day0.Add(time.Duration(i+1)*tc.gap))
				steps = append(steps, at(e, int64(i+2)))
			}
			steps = append(steps, at(sale("orig", "c", day0, 100), int64(tc.between+2)).is(tc.want))
			require.NoError(t, run(t, &s, rules(), steps...))
			want := int64(100)
			if tc.want == state.Applied {
				want = 200
			}
			require.Equal(t, want, s.Money)
		})
	}
}

// TestApplyRecentIsBounded: at most MaxRecent ids are remembered; those
// dropped while still within the window are counted.
func TestApplyRecentIsBounded(t *testing.T) {
	t.Run("MaxRecent drops the oldest", func(t *testing.T) {
		r := rules()
		r.MaxRecent = 4
		var s state.State
		var forgotten []int
		for i := range 10 {
			e := sale(fmt.Sprint("e", i), "c", day0.Add(time.Duration(i)*time.Hour), 100)
			out, rep, err := state.Apply(&s, &state.Input{Event: e, Partition: in3, Offset: int64(i)}, r)
			require.NoError(t, err)
			require.Equal(t, state.Applied, out)
			require.LessOrEqual(t, len(s.Recent), 4)
			forgotten = append(forgotten, rep.Forgotten)
		}
		require.Equal(t, []int{0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, forgotten)
		require.NoError(t, run(t, &s, r,
			at(sale("e9", "c", day0, 100), 100).is(state.Duplicate),
			at(sale("e6", "c", day0, 100), 101).is(state.Duplicate),
			at(sale("e5", "c", day0, 100), 102), // beyond the memory; the watermark covers redelivery
		))
	})
	t.Run("ids that left the window are not counted", func(t *testing.T) {
		r := rules()
		r.MaxRecent = 2
		var s state.State
		var forgotten []int
		for i, d := range []time.Duration{0, 8 * 24 * time.Hour, 8*24*time.Hour + time.Hour, 8*24*time.Hour + 2*time.Hour} {
			_, rep, err := state.Apply(&s, &state.Input{Event: contact(fmt.Sprint("e", i), "c", day0.Add(d)), Partition: in3, Offset: int64(i)}, r)
			require.NoError(t, err)
			forgotten = append(forgotten, rep.Forgotten)
		}
		require.Equal(t, []int{0, 0, 0, 1}, forgotten)
		require.Len(t, s.Recent, 2)
	})
	t.Run("an event older than the window is not remembered", func(t *testing.T) {
		var s state.State
		require.NoError(t, run(t, &s, rules(),
			at(sale("new", "c", day0, 1), 1),
			at(sale("old", "c", day0.Add(-30*24*time.Hour), 1), 2),
		))
		require.Len(t, s.Recent, 1)
	})
}

func TestApplyRefunds(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		steps                        []step
		money, margin, refunds, rm   int64
		purchases, windowN, windowMo int64
	}{{
		name:  "a refund reduces money and margin, not purchases",
		steps: []step{at(withMargin(sale("s", "c", day0, 10000), 3000), 1), at(withMargin(refund("r", "c", day0.Add(time.Hour), 2500), 700), 2)},
		money: 7500, margin: 2300, refunds: 1, rm: 2500, purchases: 1, windowN: 1, windowMo: 7500,
	}, {
		name:  "a refund alone makes money negative",
		steps: []step{at(refund("r", "c", day0, 400), 1)},
		money: -400, refunds: 1, rm: 400, windowMo: -400,
	}, {
		name:  "a refund does not reset contacts since the last purchase",
		steps: []step{at(sale("s", "c", day0, 100), 1), at(contact("k", "c", day0.Add(time.Hour)), 2), at(refund("r", "c", day0.Add(2*time.Hour), 100), 3)},
		money: 0, refunds: 1, rm: 100, purchases: 1, windowN: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			require.NoError(t, run(t, &s, rules(), tc.steps...))
			require.Equal(t, tc.money, s.Money)
			require.Equal(t, tc.margin, s.Margin)
			require.Equal(t, tc.refunds, s.Refunds)
			require.Equal(t, tc.rm, s.RefundMoney)
			require.Equal(t, tc.purchases, s.Purchases)
			require.Len(t, s.Window, 1)
			require.Equal(t, tc.windowN, s.Window[0].Count)
			require.Equal(t, tc.windowMo, s.Window[0].Money)
			require.Equal(t, tc.margin, s.Window[0].Margin)
			if tc.purchases == 0 {
				require.True(t, s.LastPurchase.IsZero(), "a refund is not a purchase")
			}
		})
	}
}

func withMargin(e *events.Event, m int64) *events.Event {
	e.Purchase.Margin, e.Purchase.HasMargin = m, true
	return e
}

func TestApplyComplaints(t *testing.T) {
	open := func(id string, sev events.Severity, h int) *events.Event {
		return complaint(id, "c", day0.Add(time.Duration(h)*time.Hour), sev, false)
	}
	resolve := func(id string, sev events.Severity, h int) *events.Event {
		return complaint(id, "c", day0.Add(time.Duration(h)*time.Hour), sev, true)
	}
	for _, tc := range []struct {
		name       string
		events     []*events.Event
		complaints int64
		open       [5]int64
		last       int // hours after day0 of the latest complaint opened
	}{
		{"one of each severity", []*events.Event{
			open("1", events.SeverityLow, 0), open("2", events.SeverityMedium, 1),
			open("3", events.SeverityHigh, 2), open("4", events.SeverityCritical, 3),
		}, 4, [5]int64{0, 1, 1, 1, 1}, 3},
		{"resolve by severity", []*events.Event{
			open("1", events.SeverityHigh, 0), open("2", events.SeverityLow, 1), resolve("3", events.SeverityHigh, 2),
		}, 2, [5]int64{0, 1, 0, 0, 0}, 1},
		{"resolving more than opened stays at zero", []*events.Event{
			open("1", events.SeverityMedium, 0), resolve("2", events.SeverityMedium, 1), resolve("3", events.SeverityMedium, 2),
			resolve("4", events.SeverityCritical, 3),
		}, 1, [5]int64{}, 0},
		{"a late complaint does not move the latest", []*events.Event{
			open("1", events.SeverityLow, 5), open("2", events.SeverityLow, 1),
		}, 2, [5]int64{0, 2, 0, 0, 0}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			for i, e := range tc.events {
				require.NoError(t, run(t, &s, rules(), at(e, int64(i))))
			}
			require.Equal(t, tc.complaints, s.Complaints)
			require.Equal(t, tc.open, s.OpenBySeverity)
			require.Equal(t, day0.Add(time.Duration(tc.last)*time.Hour), s.LastComplaint)
			require.Zero(t, s.Purchases)
		})
	}
}

func TestApplyContacts(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		steps                    []step
		contacts, since, respond int64
	}{
		{"contacts and responses", []step{
			at(contact("k1", "c", day0), 1).responded(), at(contact("k2", "c", day0.Add(time.Hour)), 2),
		}, 2, 2, 1},
		{"a sale resets contacts since the last purchase", []step{
			at(contact("k1", "c", day0), 1), at(sale("s", "c", day0.Add(time.Hour), 1), 2), at(contact("k2", "c", day0.Add(2*time.Hour)), 3),
		}, 2, 1, 0},
		{"a late contact before the last purchase does not count since", []step{
			at(sale("s", "c", day0, 1), 1), at(contact("k1", "c", day0.Add(-time.Hour)), 2), at(contact("k2", "c", day0.Add(time.Hour)), 3),
		}, 2, 1, 0},
		{"a late sale does not reset", []step{
			at(sale("s1", "c", day0, 1), 1), at(contact("k1", "c", day0.Add(time.Hour)), 2), at(sale("s0", "c", day0.Add(-time.Hour), 1), 3),
		}, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			require.NoError(t, run(t, &s, rules(), tc.steps...))
			require.Equal(t, tc.contacts, s.Contacts)
			require.Equal(t, tc.since, s.ContactsSinceLastPurchase)
			require.Equal(t, tc.respond, s.Responses)
		})
	}
}

func TestApplyLateEventsAndWindow(t *testing.T) {
	r := rules()
	r.WindowDays = 28
	var s state.State
	d := 24 * time.Hour
	require.NoError(t, run(t, &s, r, at(sale("new", "c", day0, 500), 1), at(sale("old", "c", day0.Add(-10*d), 300), 2)))
	require.Equal(t, day0, s.LastPurchase, "recency follows the latest event time, not arrival")
	require.Equal(t, day0.Add(-10*d), s.FirstPurchase)
	require.Equal(t, day0.Add(-10*d), s.FirstSeen)
	require.Equal(t, day0, s.LastEvent)
	require.Equal(t, int64(2), s.PurchaseDays)
	require.Len(t, s.Window, 2)
	require.Less(t, s.Window[0].Day, s.Window[1].Day)

	// 40 days later the first two buckets have left the 28-day window
	require.NoError(t, run(t, &s, r, at(sale("later", "c", day0.Add(40*d), 100), 3)))
	require.Len(t, s.Window, 1)
	require.Equal(t, int64(100), s.Window[0].Money)
	require.Equal(t, int64(900), s.Money, "lifetime money keeps what left the window")

	// an event older than the window counts in lifetime, not in a bucket
	require.NoError(t, run(t, &s, r, at(sale("ancient", "c", day0.Add(-100*d), 7), 4)))
	require.Len(t, s.Window, 1)
	require.Equal(t, int64(907), s.Money)
	require.Equal(t, int64(4), s.Purchases)
	require.Equal(t, day0.Add(-100*d), s.FirstPurchase)

	// a late one within the window goes to its own bucket, in order
	require.NoError(t, run(t, &s, r, at(sale("late", "c", day0.Add(30*d), 11), 5)))
	require.Len(t, s.Window, 2)
	require.Equal(t, int64(11), s.Window[0].Money)
	require.Equal(t, int64(100), s.Window[1].Money)
	require.Equal(t, day0.Add(40*d), s.LastPurchase)
}

// TestApplyWindowIsBounded: whatever the order of events, a customer holds
// at most WindowDays/BucketDays+2 buckets, oldest first, one per bucket.
func TestApplyWindowIsBounded(t *testing.T) {
	for _, tc := range []struct{ bucket, window int64 }{{7, 28}, {7, 30}, {1, 3}, {30, 365}, {7, 7}} {
		t.Run(fmt.Sprintf("%d of %d days", tc.bucket, tc.window), func(t *testing.T) {
			r := rules()
			r.BucketDays, r.WindowDays = tc.bucket, tc.window
			var s state.State
			maxBuckets := int(tc.window/tc.bucket + 2)
			seen := 0
			for i := range 2000 {
				// mostly forward in time, one in five late by up to 40 days
				h := i*13 - (i%5/4)*(i%41)*24
				e := sale(fmt.Sprint("e", i), "c", day0.Add(time.Duration(h)*time.Hour), 1)
				require.NoError(t, run(t, &s, r, at(e, int64(i))))
				require.LessOrEqual(t, len(s.Window), maxBuckets, "event %d", i)
				seen = max(seen, len(s.Window))
				for j, b := range s.Window {
					require.Zero(t, b.Day%tc.bucket, "bucket %d starts a bucket", j)
					if j > 0 {
						require.Less(t, s.Window[j-1].Day, b.Day, "buckets in order, one per day")
					}
				}
				latest := s.LastEvent.Unix() / 86400
				require.Greater(t, s.Window[len(s.Window)-1].Day+tc.bucket, latest-tc.window, "the newest bucket is in the window")
			}
			t.Logf("at most %d buckets (bound %d)", seen, maxBuckets)
		})
	}
}

// TestApplyExactBeyondDoubles: money is summed as int64 over the whole
// range; a sum that would leave it rejects the event and changes nothing
// but the watermark.
func TestApplyExactBeyondDoubles(t *testing.T) {
	steps := []struct {
		amount, margin int64
		refund         bool
	}{
		{4e13 + 7, 3, false},
		{3e13 + 11, -5, false},
		{1<<53 + 1, 1<<53 + 3, false},      // not a double
		{1<<62 + 12345, -(1 << 61), false}, // near the top of int64
		{1<<62 + 99, 7, true},              // refund back below
		{4e18, 1, false},                   // total still fits
		{math.MaxInt64 - 1e18, 1, false},   // now it would overflow
	}
	var s state.State
	var money, margin, sales, refunds, refunded int64
	for i, st := range steps {
		e := withMargin(sale(string(rune('a'+i)), "rich", day0.Add(time.Duration(i)*time.Hour), st.amount), st.margin)
		e.Purchase.Refund = st.refund
		if i == len(steps)-1 {
			err := run(t, &s, rules(), at(e, int64(i+1)).is(state.Rejected))
			de, ok := errors.AsType[*events.DecodeError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, events.ReasonOverflow, de.Reason)
			require.Equal(t, "amount", de.Field)
			require.ErrorContains(t, err, `"amount"`)
			require.ErrorContains(t, err, "money")
			require.ErrorIs(t, err, events.ErrInvalid)
			continue
		}
		require.NoError(t, run(t, &s, rules(), at(e, int64(i+1))))
		if st.refund {
			money -= st.amount
			margin -= st.margin
			refunds++
			refunded += st.amount
		} else {
			money += st.amount
			margin += st.margin
			sales++
		}
		require.Equal(t, money, s.Money, "step %d", i)
		require.Equal(t, margin, s.Margin, "step %d", i)
		require.Equal(t, sales, s.Purchases, "step %d", i)
		require.Equal(t, refunds, s.Refunds, "step %d", i)
		require.Equal(t, refunded, s.RefundMoney, "step %d", i)
		require.Len(t, s.Window, 1, "step %d: one week", i)
		require.Equal(t, scoring.Bucket{Day: s.Window[0].Day, Count: sales, Money: money, Margin: margin}, s.Window[0], "step %d", i)
	}
}

// TestApplyOverflow: every sum that would leave the 64-bit range rejects
// the event with an overflow error naming the event's field, whatever the
// sum.
func TestApplyOverflow(t *testing.T) {
	const big = 5e18 // 50000000000000000.00 USD in cents
	for _, tc := range []struct {
		name  string
		prev  func(s *state.State)
		e     *events.Event
		field string // the event's field the error names
		sum   string // the customer's sum the error names
	}{
		{"money", func(s *state.State) { s.Money = math.MaxInt64 - 1 }, sale("x", "c", day0, 2), "amount", "money"},
		{"money below the range", func(s *state.State) { s.Money = math.MinInt64 + 1 }, refund("x", "c", day0, 2), "amount", "money"},
		{"margin", func(s *state.State) { s.Margin = math.MaxInt64 }, withMargin(sale("x", "c", day0, 2), 1), "margin", "margin"},
		{"refunded money", func(s *state.State) { s.RefundMoney = math.MaxInt64 }, refund("x", "c", day0, 1), "amount", "refunded money"},
		{"window money", func(s *state.State) {
			s.LastEvent = day0
			s.Window = []scoring.Bucket{{Day: day0.Unix() / 86400 / 7 * 7, Count: 1, Money: math.MaxInt64}}
		}, sale("x", "c", day0, 1), "amount", "window money"},
		{"refund of a margin of -2^63", nil, withMargin(refund("x", "c", day0, 1), math.MinInt64), "margin", "margin"},
		{"complaints", func(s *state.State) { s.Complaints = math.MaxInt64 }, complaint("x", "c", day0, events.SeverityLow, false), "complaint_id", "complaints"},
		{"contacts", func(s *state.State) { s.Contacts = math.MaxInt64 }, contact("x", "c", day0), "contact_id", "contacts"},
		{"purchases", func(s *state.State) { s.Purchases = math.MaxInt64 }, sale("x", "c", day0, 1), "amount", "purchases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s state.State
			if tc.prev != nil {
				tc.prev(&s)
			}
			err := run(t, &s, rules(), at(tc.e, 7).is(state.Rejected))
			require.Equal(t, events.ReasonOverflow, events.ReasonOf(err))
			de, _ := errors.AsType[*events.DecodeError](err)
			require.Equal(t, tc.field, de.Field)
			require.ErrorContains(t, err, "customer's "+tc.sum+" past")
			require.ErrorContains(t, err, `"x"`, "names the event")
			// a redelivery of the rejected message is not rejected again
			require.NoError(t, run(t, &s, rules(), at(tc.e, 7).is(state.Redelivery)))
		})
	}

	t.Run("two purchases of 5e18 minor units", func(t *testing.T) {
		var s state.State
		err := run(t, &s, rules(), at(sale("p1", "c", day0, big), 1), at(sale("p2", "c", day0.Add(time.Hour), big), 2).is(state.Rejected))
		require.Equal(t, events.ReasonOverflow, events.ReasonOf(err))
		require.Equal(t, int64(big), s.Money)
		require.Equal(t, int64(1), s.Purchases)
		require.Equal(t, day0, s.LastEvent, "the rejected event's time is not taken")
		require.Len(t, s.Recent, 1, "the rejected event's id is not remembered")
		// nor is its id taken as a duplicate: after a refund it applies
		require.NoError(t, run(t, &s, rules(), at(refund("r", "c", day0.Add(2*time.Hour), big), 3), at(sale("p2", "c", day0.Add(time.Hour), big), 4)))
		require.Equal(t, int64(big), s.Money)
	})
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[state.Outcome]string{
		state.Applied: "applied", state.Redelivery: "redelivery", state.Duplicate: "duplicate",
		state.Rejected: "rejected", state.Outcome(99): "unknown",
	} {
		require.Equal(t, want, o.String())
	}
}
