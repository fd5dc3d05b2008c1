package scoring

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// customerWith returns a customer whose last purchase was recency days
// ago, first purchase tenure days ago, with frequency sales worth monetary
// major units in the window (in the bucket of the last purchase).
func customerWith(id string, recency, tenure float64, frequency int, monetary float64) *Customer {
	lp, fp := daysAgo(recency), daysAgo(tenure)
	money := int64(math.Round(monetary * 100))
	n := int64(max(frequency, 1))
	return &Customer{
		ID: id, FirstSeen: fp, LastEvent: lp, FirstPurchase: fp, LastPurchase: lp,
		Purchases: n, PurchaseDays: n, Money: money, Margin: money / 4,
		Window: []Bucket{{Day: dayNumber(lp) / 7 * 7, Count: int64(frequency), Money: money, Margin: money / 4}},
	}
}

func TestThresholdScores(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.Mode = ModeThresholds })
	cases := []struct {
		recency, tenure float64
		freq            int
		monetary        float64
		want            Scores
	}{
		{recency: 1, tenure: 800, freq: 9, monetary: 2000, want: Scores{5, 5, 5, 5}},
		{recency: 30, tenure: 730, freq: 8, monetary: 1000, want: Scores{5, 4, 4, 4}},
		{recency: 30.5, tenure: 365, freq: 4, monetary: 400, want: Scores{5, 3, 3, 3}}, // 30 whole days
		{recency: 31, tenure: 200, freq: 2, monetary: 150, want: Scores{4, 2, 2, 3}},
		{recency: 60, tenure: 180, freq: 1, monetary: 50, want: Scores{4, 1, 1, 2}},
		{recency: 121, tenure: 90, freq: 1, monetary: 10, want: Scores{2, 1, 1, 1}},
		{recency: 241, tenure: 300, freq: 1, monetary: 10, want: Scores{1, 1, 1, 3}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			c := customerWith("t", tc.recency, tc.tenure, tc.freq, tc.monetary)
			r := e.Evaluate(c, Env{}, t0)
			require.Equal(t, int64(tc.freq), r.Metrics.Frequency)
			require.InDelta(t, tc.monetary, r.Metrics.Monetary, 0.05)
			require.Equal(t, tc.want, r.Scores, "metrics %+v", r.Metrics)
		})
	}
}

// population builds a population from customers' contributions.
func population(t testing.TB, e *Engine, cs []*Customer) *Population {
	p := NewPopulation(t0)
	for _, c := range cs {
		p.Add(e.Evaluate(c, Env{}, t0).Contrib, 1)
	}
	return p
}

// uniformCustomers: 1000 active customers with recency 0..299 days,
// frequency 1..5, monetary 1..1000 and tenure 300..1299 days.
func uniformCustomers() []*Customer {
	var cs []*Customer
	for i := range 1000 {
		cs = append(cs, customerWith(fmt.Sprint("u", i), float64(i%250), float64(300+i), 1+i%5, float64(i+1)))
	}
	return cs
}

func TestQuantileScores(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.Hysteresis = 0 })
	pop := population(t, e, uniformCustomers())
	require.Equal(t, int64(1000), pop.Active())
	env := Env{Population: pop}

	cases := []struct {
		name     string
		recency  float64
		tenure   float64
		freq     int
		monetary float64
		want     Scores
	}{
		{"top", 2, 1200, 5, 990, Scores{5, 5, 5, 5}},
		{"bottom", 290, 310, 1, 20, Scores{1, 1, 1, 1}},
		{"middle", 125, 800, 3, 500, Scores{3, 3, 3, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := customerWith("q", tc.recency, tc.tenure, tc.freq, tc.monetary)
			r := e.Evaluate(c, env, t0)
			require.Equal(t, tc.want, r.Scores, "metrics %+v", r.Metrics)
		})
	}

	t.Run("cut points", func(t *testing.T) {
		pc := e.cutsFor(pop)
		require.True(t, pc.ok == [4]bool{true, true, true, true})
		// Monetary 0..999 major units: quintiles near 200, 400, 600, 800.
		for k, want := range []float64{200, 400, 600, 800} {
			require.InEpsilon(t, want, pc.cuts[scoreM].cut[k], 0.02)
		}
		// Recency 0..249 days: quintiles near 50, 100, 150, 200 days.
		for k, want := range []float64{50, 100, 150, 200} {
			require.InDelta(t, want, pc.cuts[scoreR].cut[k], 2)
		}
		require.Same(t, pc, e.cutsFor(pop), "cached per population")
	})

	t.Run("small population falls back to thresholds", func(t *testing.T) {
		small := population(t, e, uniformCustomers()[:50])
		c := customerWith("s", 31, 200, 2, 150)
		require.Equal(t, Scores{4, 2, 2, 3}, e.Evaluate(c, Env{Population: small}, t0).Scores)
		require.Equal(t, Scores{4, 2, 2, 3}, e.Evaluate(c, Env{}, t0).Scores)
	})
}

// TestHysteresis moves a customer's monetary value back and forth across
// a quintile boundary: with hysteresis the score does not flap.
func TestHysteresis(t *testing.T) {
	e := newEngine(t, nil) // hysteresis 0.05
	pop := population(t, e, uniformCustomers())
	env := Env{Population: pop}
	pc := e.cutsFor(pop)
	cut := pc.cuts[scoreM].cut[1] // between M 2 and 3, near 400
	lo, hi := pc.cuts[scoreM].lo[1], pc.cuts[scoreM].hi[1]
	require.Less(t, lo, cut)
	require.Greater(t, hi, cut)
	t.Logf("M boundary 2|3 at %.2f, band (%.2f, %.2f]", cut, lo, hi)

	c := customerWith("h", 10, 800, 2, 380)
	withMoney := func(v float64) {
		c.Window = []Bucket{{Day: dayNumber(t0) - 10, Count: 2, Money: int64(v * 100), Margin: 100}}
	}
	eval := func(v float64) int {
		withMoney(v)
		r := e.Evaluate(c, env, t0)
		c.Scores = r.Scores.Packed()
		return r.Scores.M
	}
	withMoney(cut - 30)
	c.Scores = [4]int8{}
	require.Equal(t, 2, eval(cut-30))
	for range 5 {
		require.Equal(t, 2, eval(cut+5), "just above the boundary: stays 2")
		require.Equal(t, 2, eval(cut-5))
	}
	require.Equal(t, 3, eval(hi+10), "past the band: moves up")
	for range 5 {
		require.Equal(t, 3, eval(cut-5), "just below the boundary: stays 3")
		require.Equal(t, 3, eval(cut+5))
	}
	require.Equal(t, 2, eval(lo-10), "past the band: moves down")
	c.Scores = [4]int8{}
	require.Equal(t, 3, eval(cut+5), "without a previous score the raw score applies")

	t.Run("no hysteresis flaps", func(t *testing.T) {
		e0 := newEngine(t, func(c *Config) { c.Hysteresis = 0 })
		c.Scores = [4]int8{}
		var got []int
		for _, v := range []float64{cut + 5, cut - 5, cut + 5} {
			withMoney(v)
			r := e0.Evaluate(c, env, t0)
			c.Scores = r.Scores.Packed()
			got = append(got, r.Scores.M)
		}
		require.Equal(t, []int{3, 2, 3}, got)
	})
	t.Run("fixed thresholds are exact", func(t *testing.T) {
		c.Scores = [4]int8{0, 2, 2, 0}
		withMoney(150.01)
		require.Equal(t, 3, e.Evaluate(c, Env{}, t0).Scores.M)
	})
}

func TestProfiles(t *testing.T) {
	e := newEngine(t, func(c *Config) {
		c.Mode = ModeThresholds
		c.Profiles = Profiles{
			{Name: "retention", Weights: map[string]float64{"recency": 0.4, "frequency": 0.3, "monetary": 0.3, "complaints": -0.2}},
			{Name: "negative", Weights: map[string]float64{"r": -1, "open_complaints": -2}},
			{Name: "raw", Weights: map[string]float64{"response_rate": 1, "p_alive": 1}},
		}
	})
	best := customerWith("b", 1, 800, 9, 2000)
	worst := customerWith("w", 250, 800, 1, 1)
	worst.Complaints = 9
	worst.OpenBySeverity[2] = 5
	mid := customerWith("m", 100, 800, 3, 300)
	mid.Complaints = 1
	mid.Contacts, mid.Responses = 4, 1

	score := func(c *Customer) []float64 {
		r := e.Evaluate(c, Env{}, t0)
		var out []float64
		for _, p := range r.Profiles {
			require.GreaterOrEqual(t, p.Score, 0.0, p.Profile)
			require.LessOrEqual(t, p.Score, 100.0, p.Profile)
			out = append(out, p.Score)
		}
		return out
	}
	b, w, m := score(best), score(worst), score(mid)
	require.InDelta(t, 100, b[0], 1e-9, "all best, no complaints")
	require.InDelta(t, 0, w[0], 1e-9, "all worst, complaints at the cap")
	// negative: x_r = 0 for the worst recency, complaints at the cap: S = -2 in [-3, 0].
	require.InDelta(t, 100.0/3, w[1], 1e-9)
	require.InDelta(t, 0, score(func() *Customer { c := customerWith("x", 1, 800, 1, 1); c.OpenBySeverity[1] = 3; return c }())[1], 1e-9,
		"best recency and open complaints at the cap: lowest")
	require.InDelta(t, 100, score(customerWith("y", 300, 800, 1, 1))[1], 1e-9, "worst recency, no complaints: highest")
	// mid: r=3 (0.5), f=3 (0.5), m=3 (0.5), complaints 1/5: S = 0.2+0.15+0.15-0.04 = 0.46 in [-0.2, 1].
	require.InDelta(t, 100*(0.46+0.2)/1.2, m[0], 1e-9)
	require.InDelta(t, 100*(0.25+1)/2, m[2], 1e-9, "raw variables by cap: response_rate 0.25, p_alive 1")
}
