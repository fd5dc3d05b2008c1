package scoring

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// t0 is the evaluation time of most tests: midday, so whole-day counts and
// calendar days differ visibly.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// sale is one purchase or refund for the reference store below.
type sale struct {
	at     time.Time
	amount int64 // minor units
	margin int64
	refund bool
}

// daysAgo is t0 minus d days.
func daysAgo(d float64) time.Time { return t0.Add(-time.Duration(d * float64(Day))) }

// buy returns a customer built from sales the way the store applies them:
// first/last purchase by event time, lifetime sums, distinct purchase days,
// window buckets of bucketDays starting at floor(day/bucketDays)*bucketDays.
func buy(id string, bucketDays int, sales ...sale) *Customer {
	c := &Customer{ID: id}
	days := map[int64]bool{}
	buckets := map[int64]*Bucket{}
	var order []int64
	for _, s := range sales {
		if c.FirstSeen.IsZero() || s.at.Before(c.FirstSeen) {
			c.FirstSeen = s.at
		}
		if s.at.After(c.LastEvent) {
			c.LastEvent = s.at
		}
		d := dayNumber(s.at)
		bd := d / int64(bucketDays) * int64(bucketDays)
		b := buckets[bd]
		if b == nil {
			b = &Bucket{Day: bd}
			buckets[bd] = b
			order = append(order, bd)
		}
		if s.refund {
			c.Refunds++
			c.RefundMoney += s.amount
			c.Money -= s.amount
			c.Margin -= s.margin
			b.Money -= s.amount
			b.Margin -= s.margin
			continue
		}
		c.Purchases++
		c.Money += s.amount
		c.Margin += s.margin
		b.Count++
		b.Money += s.amount
		b.Margin += s.margin
		days[d] = true
		if c.FirstPurchase.IsZero() || s.at.Before(c.FirstPurchase) {
			c.FirstPurchase = s.at
		}
		if s.at.After(c.LastPurchase) {
			c.LastPurchase = s.at
		}
	}
	c.PurchaseDays = int64(len(days))
	for _, d := range sortedInt64(order) {
		c.Window = append(c.Window, *buckets[d])
	}
	return c
}

func sortedInt64(v []int64) []int64 {
	out := append([]int64(nil), v...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// sales returns n sales of amount (and margin) spread evenly from
// firstDaysAgo to lastDaysAgo.
func sales(n int, firstDaysAgo, lastDaysAgo float64, amount, margin int64) []sale {
	out := make([]sale, n)
	for i := range out {
		d := firstDaysAgo
		if n > 1 {
			d = firstDaysAgo - (firstDaysAgo-lastDaysAgo)*float64(i)/float64(n-1)
		}
		out[i] = sale{at: daysAgo(d), amount: amount, margin: margin}
	}
	return out
}

func newEngine(t testing.TB, mutate func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := NewEngine(cfg)
	require.NoError(t, err)
	return e
}

func segmentOf(r Result, segmentation string) string {
	for _, a := range r.Segments {
		if a.Segmentation == segmentation {
			return a.Segment
		}
	}
	return "<none>"
}
