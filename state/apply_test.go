package state_test

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// The apply script sums in Lua numbers while that is exact and in decimal
// strings beyond: money stays exact over the whole 64-bit range, and
// leaving it fails as HINCRBY does.
func TestApplyExactBeyondDoubles(t *testing.T) {
	s, _ := newStore(t, state.Config{})
	c := "rich"
	buy := func(id string, at time.Time, amount, margin int64, refund bool) *events.Event {
		e := sale(id, c, at, amount)
		e.Purchase.Margin, e.Purchase.HasMargin, e.Purchase.Refund = margin, margin != 0, refund
		return e
	}
	steps := []struct {
		amount, margin int64
		refund         bool
	}{
		{4e13 + 7, 3, false},               // fast path
		{3e13 + 11, -5, false},             // sum past 5e13, operands below
		{1<<53 + 1, 1<<53 + 3, false},      // not a double
		{1<<62 + 12345, -(1 << 61), false}, // near the top of int64
		{1<<62 + 99, 7, true},              // refund back below
		{4e18, 1, false},                   // total still fits
		{math.MaxInt64 - 1e18, 1, false},   // now it would overflow
	}
	var money, margin, sales, refunds, refunded int64
	for i, st := range steps {
		ev := buy(string(rune('a'+i)), day0.Add(time.Duration(i)*time.Hour), st.amount, st.margin, st.refund)
		if i == len(steps)-1 {
			_, err := s.ApplyBatch(t.Context(), []state.Apply{at(ev, int64(i+1))}, nil)
			require.ErrorContains(t, err, "overflow")
			continue
		}
		res := apply(t, s, at(ev, int64(i+1)))
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
		got := res[0].Customer
		require.Equal(t, money, got.Money, "step %d", i)
		require.Equal(t, margin, got.Margin, "step %d", i)
		require.Equal(t, sales, got.Purchases, "step %d", i)
		require.Equal(t, refunds, got.Refunds, "step %d", i)
		require.Equal(t, refunded, got.RefundMoney, "step %d", i)
		require.Len(t, got.Window, 1, "step %d: one week", i)
		require.Equal(t, money, got.Window[0].Money, "step %d", i)
		require.Equal(t, margin, got.Window[0].Margin, "step %d", i)
		require.Equal(t, sales, got.Window[0].Count, "step %d", i)
	}
	loaded, err := s.Load(t.Context(), []string{c})
	require.NoError(t, err)
	require.Equal(t, money, loaded[0].Customer.Money)
	require.Equal(t, margin, loaded[0].Customer.Window[0].Margin)
}

// Hashes written before buckets were packed into one field hold b<D>,
// v<D>, g<D>: they still count while in the window, add up with a packed
// bucket of the same day, and are deleted once they leave the window.
func TestLegacyBucketsDecodeAndExpire(t *testing.T) {
	s, rdb := newStore(t, state.Config{BucketDays: 7, WindowDays: 28})
	c := "legacy"
	first := apply(t, s, at(sale("a", c, day0, 500), 1))[0].Customer
	require.Len(t, first.Window, 1)
	d := strconv.FormatInt(first.Window[0].Day, 10)
	old := strconv.FormatInt(first.Window[0].Day-7, 10)
	require.NoError(t, rdb.HSet(t.Context(), s.CustomerKey(c),
		"b"+d, 2, "v"+d, 300, "g"+d, 40, // same week as the packed bucket
		"b"+old, 1, "v"+old, 70).Err()) // the week before
	got := apply(t, s, at(sale("b", c, day0.Add(time.Hour), 100), 2))[0].Customer
	require.Equal(t, []scoring.Bucket{
		{Day: first.Window[0].Day - 7, Count: 1, Money: 70},
		{Day: first.Window[0].Day, Count: 4, Money: 900, Margin: 40},
	}, got.Window)

	// 40 days later both weeks have left the 28-day window
	got = apply(t, s, at(sale("c", c, day0.Add(40*24*time.Hour), 9), 3))[0].Customer
	require.Len(t, got.Window, 1)
	require.Equal(t, int64(9), got.Window[0].Money)
	left, err := rdb.HKeys(t.Context(), s.CustomerKey(c)).Result()
	require.NoError(t, err)
	for _, f := range left {
		require.NotRegexp(t, `^[bvg]\d+$`, f, "legacy bucket field left in the hash")
		require.NotEqual(t, d, f, "packed bucket that left the window")
	}
}
