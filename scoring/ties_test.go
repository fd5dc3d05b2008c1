package scoring

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuantileTiesOnACutPoint: when most of the population shares one
// monetary value, the quintile cut points sit on that value's bin, and the
// customers who share it must score at the bottom, not above every cut.
func TestQuantileTiesOnACutPoint(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	today := float64(now.Unix() / 86400)
	pop := NewPopulation(now)
	pop.Monetary.Add(20.00, 900)
	pop.Monetary.Add(2400.00, 100)
	pop.Frequency.Add(1, 900)
	pop.Frequency.Add(12, 100)
	pop.Recency.Add(today-250, 900)
	pop.Recency.Add(today-1, 100)
	pop.Tenure.Add(today-250, 900)
	pop.Tenure.Add(today-60, 100)

	e, err := NewEngine(DefaultConfig())
	require.NoError(t, err)
	last := now.Add(-250 * 24 * time.Hour)
	c := &Customer{ID: "light", FirstSeen: last, LastEvent: last, FirstPurchase: last, LastPurchase: last,
		Purchases: 1, PurchaseDays: 1, Money: 2000,
		Window: []Bucket{{Day: last.Unix() / 86400 / 7 * 7, Count: 1, Money: 2000}}}
	r := e.Evaluate(c, Env{Population: pop}, now)
	require.Equal(t, 1, r.Scores.M, "a value tied on every cut point is not above them")
	require.Equal(t, 1, r.Scores.F)
}
