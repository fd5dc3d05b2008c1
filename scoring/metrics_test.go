package scoring

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.CostToServe = 2 })
	c := buy("m1", 7,
		sale{at: daysAgo(500), amount: 10000, margin: 3000}, // outside the window
		sale{at: daysAgo(100), amount: 5000, margin: 1500},
		sale{at: daysAgo(100.2), amount: 2500, margin: 500}, // same day as the one above
		sale{at: daysAgo(20), amount: 1234, margin: 400},
		sale{at: daysAgo(10), amount: 2500, margin: 500, refund: true},
	)
	c.Complaints = 3
	c.OpenBySeverity = [5]int64{0, 1, 0, 2, 0}
	c.Contacts = 8
	c.ContactsSinceLastPurchase = 2
	c.Responses = 2
	c.LastContact = daysAgo(3.5)
	r := e.Evaluate(c, Env{}, t0)
	m := r.Metrics

	require.Equal(t, int64(20), m.RecencyDays)
	require.Equal(t, int64(3), m.Frequency)
	require.InDelta(t, (5000+2500+1234-2500)/100.0, m.Monetary, 1e-9, "refund reduces monetary")
	require.InDelta(t, (1500+500+400-500)/100.0, m.Margin, 1e-9)
	require.InDelta(t, 19.0-3*2, m.Profit, 1e-9)
	require.Equal(t, int64(500), m.TenureDays)
	require.InDelta(t, (10000+5000+2500+1234-2500)/100.0, m.LifetimeMoney, 1e-9)
	require.InDelta(t, (3000+1500+500+400-500)/100.0, m.LifetimeMargin, 1e-9)
	require.Equal(t, int64(4), m.LifetimePurchases)
	require.InDelta(t, 162.34/4, m.AvgOrderValue, 1e-9)
	require.Equal(t, int64(1), m.Refunds)
	require.InDelta(t, 0.25, m.RefundRate, 1e-12)
	require.Equal(t, int64(3), m.OpenComplaints)
	require.Equal(t, int64(3), m.OpenComplaintSeverity)
	require.Equal(t, int64(3), m.Complaints)
	require.Equal(t, int64(8), m.Contacts)
	require.Equal(t, int64(2), m.ContactsSincePurchase)
	require.Equal(t, int64(2), m.Responses)
	require.InDelta(t, 0.25, m.ResponseRate, 1e-12)
	require.Equal(t, int64(3), m.DaysSinceContact)
	require.True(t, m.Active)
	require.Equal(t, 1.0, m.PAlive)
	require.Greater(t, m.ExpectedPurchases, 0.0)
	require.Greater(t, m.CLV, 0.0)
	require.Equal(t, int64(3), c.PurchaseDays, "two days in the window plus one outside")

	for _, name := range MetricNames() {
		v, ok := m.Value(name)
		require.True(t, ok, name)
		require.False(t, math.IsNaN(v), name)
	}
	v, ok := m.Value("monetary")
	require.True(t, ok)
	require.Equal(t, m.Monetary, v)
	_, ok = m.Value("nope")
	require.False(t, ok)
	_, ok = m.Value("r")
	require.False(t, ok, "scores are not metrics")
}

func TestMetricsNever(t *testing.T) {
	e := newEngine(t, nil)
	c := &Customer{ID: "n", FirstSeen: daysAgo(12.5), Contacts: 1, LastContact: daysAgo(1)}
	r := e.Evaluate(c, Env{}, t0)
	m := r.Metrics
	require.Equal(t, int64(NeverDays), m.RecencyDays)
	require.Equal(t, int64(12), m.TenureDays, "tenure from first seen without purchases")
	require.Equal(t, int64(1), m.DaysSinceContact)
	require.Zero(t, m.Frequency)
	require.False(t, m.Active)
	require.Zero(t, m.PAlive)
	require.Equal(t, Scores{}, r.Scores)
	require.Equal(t, "", r.Churn.Level)
	require.Equal(t, Contrib{}, r.Contrib)
	require.Equal(t, int64(NeverDays), e.Evaluate(&Customer{ID: "x"}, Env{}, t0).Metrics.DaysSinceContact)
}

// TestWindowBoundary checks that a bucket starting on day D counts on the
// last day of D + bucket_days + window_days - 1 and not from the first
// instant of the next day, and that the due time is that instant.
func TestWindowBoundary(t *testing.T) {
	for _, bd := range []int{1, 7, 30} {
		t.Run(time.Duration(bd*24*int(time.Hour)).String(), func(t *testing.T) {
			e := newEngine(t, func(c *Config) { c.BucketDays = bd; c.WindowDays = 365 })
			buyAt := time.Date(2024, 3, 14, 18, 30, 0, 0, time.UTC)
			c := buy("w", bd, sale{at: buyAt, amount: 999, margin: 100})
			D := c.Window[0].Day
			expiry := time.Unix((D+int64(bd)+365)*86400, 0).UTC()
			before := e.Evaluate(c, Env{}, expiry.Add(-time.Second))
			after := e.Evaluate(c, Env{}, expiry)
			require.Equal(t, int64(1), before.Metrics.Frequency)
			require.InDelta(t, 9.99, before.Metrics.Monetary, 1e-9)
			require.Zero(t, after.Metrics.Frequency)
			require.Zero(t, after.Metrics.Monetary)
			require.True(t, before.Contrib.Active)
			require.False(t, after.Contrib.Active)
			// The purchase counts while its age in days is at most
			// window_days, and up to bucket_days - 1 days longer.
			lastCounted := dayNumber(expiry) - 1 - dayNumber(buyAt)
			require.GreaterOrEqual(t, lastCounted, int64(365))
			require.LessOrEqual(t, lastCounted, int64(365+bd-1))
			// Due no later than the expiry, from an evaluation a week earlier.
			r := e.Evaluate(c, Env{}, expiry.Add(-7*Day))
			require.False(t, r.NextDue.After(expiry))
			c.Scores = r.Scores.Packed()
			for ts := expiry.Add(-7 * Day); ts.Before(r.NextDue); ts = ts.Add(6 * time.Hour) {
				require.Equal(t, int64(1), e.Evaluate(c, Env{}, ts).Metrics.Frequency)
			}
		})
	}
}

// TestLateEvent: the store keeps the maximum event time as LastPurchase, so
// a late (older) purchase does not make the customer look less recent.
func TestLateEvent(t *testing.T) {
	e := newEngine(t, nil)
	inOrder := buy("l", 7, sale{at: daysAgo(40), amount: 100}, sale{at: daysAgo(5), amount: 100})
	late := buy("l", 7, sale{at: daysAgo(5), amount: 100}, sale{at: daysAgo(40), amount: 100})
	a, b := e.Evaluate(inOrder, Env{}, t0), e.Evaluate(late, Env{}, t0)
	require.Equal(t, int64(5), b.Metrics.RecencyDays)
	require.Equal(t, a.Metrics, b.Metrics)
	require.Equal(t, a.Segments, b.Segments)
}
