package scoring

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/scoring/clv"
)

// cdnowModel is the BG/NBD fit of Fader, Hardie & Lee (2005) to CDNOW, in
// weeks, with a Gamma-Gamma spend model.
func cdnowModel() *Model {
	return &Model{Params: clv.Params{
		BGNBD:      clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		GammaGamma: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
		HasGG:      true,
		TimeUnit:   7 * Day,
		Version:    "cdnow",
	}}
}

func TestChurnHeuristic(t *testing.T) {
	e := newEngine(t, nil)
	// Five purchase days 20 days apart: expected gap 20 days.
	every20 := func() *Customer { return buy("g", 7, sales(5, 100, 20, 1000, 300)...) }
	cases := []struct {
		name    string
		c       *Customer
		recency int64 // days since the last purchase at evaluation
		level   string
	}{
		{"within the gap", every20(), 20, LevelLow},
		{"just low", every20(), 33, LevelLow},       // 20 + 20 ln 2 = 33.9
		{"medium", every20(), 34, LevelMedium},      // p < 0.5
		{"just medium", every20(), 52, LevelMedium}, // 20 + 20 ln 5 = 52.2
		{"high", every20(), 53, LevelHigh},
		{"one-time buyer low", buy("o", 7, sale{at: daysAgo(0), amount: 100}), 152, LevelLow}, // default gap 90: 90+90 ln 2 = 152.4
		{"one-time buyer medium", buy("o", 7, sale{at: daysAgo(0), amount: 100}), 153, LevelMedium},
		{"one-time buyer high", buy("o", 7, sale{at: daysAgo(0), amount: 100}), 235, LevelHigh}, // 90 + 90 ln 5 = 234.8
		{"daily buyer uses min gap", buy("d", 7, sales(10, 9, 0, 100, 10)...), 11, LevelLow},    // 7 + 7 ln 2 = 11.9
		{"daily buyer medium", buy("d", 7, sales(10, 9, 0, 100, 10)...), 12, LevelMedium},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Evaluate recency days after the last purchase (plus 3 hours).
			now := tc.c.LastPurchase.Add(time.Duration(tc.recency)*Day + 3*time.Hour)
			r := e.Evaluate(tc.c, Env{}, now)
			require.Equal(t, tc.recency, r.Metrics.RecencyDays)
			require.Equal(t, tc.level, r.Churn.Level, "p_alive %.4f", r.Churn.PAlive)
			require.Equal(t, ModelHeuristic, r.Churn.Model)
			require.InDelta(t, r.Metrics.PAlive, r.Churn.PAlive, 0)
			require.InDelta(t, r.Metrics.CLV*100, r.Churn.CLV, 1e-6, "Churn.CLV in minor units")
		})
	}
	t.Run("formula", func(t *testing.T) {
		c := every20()
		r := e.Evaluate(c, Env{}, c.LastPurchase.Add(40*Day))
		p := math.Exp(-(40.0 - 20) / 20)
		require.InDelta(t, p, r.Churn.PAlive, 1e-12)
		require.InDelta(t, p*365/20, r.Churn.ExpectedPurchases, 1e-9)
		disc := (1 - math.Pow(1.1, -1)) / math.Log(1.1)
		require.InDelta(t, p*365/20*300*disc, r.Churn.CLV, 1e-6, "margin per sale 300 minor units, discounted")
	})
	t.Run("never purchased", func(t *testing.T) {
		r := e.Evaluate(&Customer{ID: "n", FirstSeen: daysAgo(10)}, Env{}, t0)
		require.Equal(t, Churn{}, r.Churn)
	})
}

func TestChurnModel(t *testing.T) {
	e := newEngine(t, nil)
	m := cdnowModel()
	c := buy("m", 7, sales(4, 200, 60, 2500, 800)...) // X = 3
	r := e.Evaluate(c, Env{Model: m}, t0)
	s := e.Summary(c, c.LastPurchase.Add(60*Day), m.TimeUnit)
	require.Equal(t, 3.0, s.X)
	require.InDelta(t, 20, s.TX, 1e-9, "140 days in weeks")
	require.InDelta(t, 200.0/7, s.T, 1e-9)
	require.InDelta(t, 800.0/100*1, s.Mean, 1e-9, "mean margin per sale in major units")
	require.Equal(t, "cdnow", r.Churn.Model)
	require.InDelta(t, m.BGNBD.PAlive(s.X, s.TX, s.T), r.Churn.PAlive, 1e-12)
	require.InDelta(t, m.BGNBD.ConditionalExpectedPurchases(365.0/7, s.X, s.TX, s.T), r.Churn.ExpectedPurchases, 1e-9)
	// Model.Value "" is money: CLV of money converted with margin/money.
	want := clv.CLV(m.Params, e.Summary(c, c.LastPurchase.Add(60*Day), m.TimeUnit), 52, math.Pow(1.1, 7.0/365)-1)
	s.Mean = 25 // money
	wantMoney := clv.CLV(m.Params, s, 52, math.Pow(1.1, 7.0/365)-1)
	require.InDelta(t, wantMoney*800/2500*100, r.Churn.CLV, 1e-6)
	require.NotEqual(t, want, wantMoney)

	t.Run("one-time buyer uses the heuristic with the model's mean gap", func(t *testing.T) {
		c := buy("o", 7, sale{at: daysAgo(200), amount: 1000, margin: 100})
		r := e.Evaluate(c, Env{Model: m}, t0)
		gap := 4.414 / 0.243 * 7 // days
		require.InDelta(t, math.Exp(-(200-gap)/gap), r.Churn.PAlive, 1e-9)
		require.Equal(t, ModelHeuristic, r.Churn.Model)
		require.Greater(t, r.Churn.ExpectedPurchases, 0.0, "expected purchases from the model")
	})
	t.Run("level crossing is due", func(t *testing.T) {
		c := buy("m", 7, sales(6, 300, 250, 2500, 800)...)
		now := c.LastPurchase.Add(2 * Day)
		r := e.Evaluate(c, Env{Model: m}, now)
		require.Equal(t, LevelLow, r.Churn.Level)
		for i := 0; i < 10 && r.Churn.Level != LevelHigh; i++ {
			due := r.NextDue
			require.False(t, due.IsZero())
			c.Scores = r.Scores.Packed()
			before := e.Evaluate(c, Env{Model: m}, due.Add(-time.Second))
			require.Equal(t, r.Churn.Level, before.Churn.Level)
			after := e.Evaluate(c, Env{Model: m}, due)
			if after.Churn.Level != r.Churn.Level {
				t.Logf("%s -> %s after %d days (p_alive %.3f)", r.Churn.Level, after.Churn.Level, after.Metrics.RecencyDays, after.Churn.PAlive)
			}
			r = after
		}
		require.Equal(t, LevelHigh, r.Churn.Level)
	})
	t.Run("unusable model falls back", func(t *testing.T) {
		bad := cdnowModel()
		bad.TimeUnit = 0
		require.Equal(t, ModelHeuristic, e.Evaluate(c, Env{Model: bad}, t0).Churn.Model)
	})
}

func TestSummaryOf(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, 1, 23, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	c := &Customer{FirstPurchase: day(0), LastPurchase: day(14).Add(-22 * time.Hour), PurchaseDays: 3, Purchases: 4, Money: 8000, Margin: 2000}
	s := SummaryOf(c, day(28), 7*Day, ValueMoney, 100)
	require.Equal(t, clv.Summary{X: 2, TX: 2, T: 4, Mean: 20}, s, "calendar days as clv.Summarize counts them")
	s = SummaryOf(c, day(28), Day, ValueMargin, 100)
	require.Equal(t, clv.Summary{X: 2, TX: 14, T: 28, Mean: 5}, s)
	require.Equal(t, clv.Summary{}, SummaryOf(&Customer{}, day(0), Day, ValueMoney, 100))
	one := &Customer{FirstPurchase: day(0), LastPurchase: day(0), PurchaseDays: 1, Purchases: 2, Money: 100}
	require.Equal(t, clv.Summary{X: 0, TX: 0, T: 3}, SummaryOf(one, day(3), Day, ValueMoney, 100))
}
