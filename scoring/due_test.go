package scoring

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// view is what a customer publishes: segments, churn level and the
// population contribution.
type view struct {
	segments string
	level    string
	contrib  Contrib
}

func viewOf(r Result) view {
	return view{segments: fmt.Sprint(r.Segments), level: r.Churn.Level, contrib: r.Contrib}
}

func oneRule(when string) func(*Config) {
	return func(c *Config) {
		c.Segmentations = []Segmentation{{Name: "s", Rules: []Rule{{Segment: "yes", When: when}}, Default: "no"}}
		c.Profiles = Profiles{}
		c.MaxDue = 365 * Day
	}
}

// TestNextDueExact: where the due time is exact, nothing changes up to a
// second before it and something changes at it.
func TestNextDueExact(t *testing.T) {
	steady := func() *Customer { return buy("s", 7, sales(5, 100, 20, 1000, 300)...) } // gap 20 days
	cases := []struct {
		name   string
		mutate func(*Config)
		c      *Customer
		now    time.Time
		env    Env
		change func(a, b Result) bool
		due    time.Duration // from now, when known in closed form (0: not checked)
	}{
		{
			name:   "recency score threshold",
			mutate: func(c *Config) { oneRule("r >= 4")(c); c.Mode = ModeThresholds },
			c:      steady(), now: t0.Add(-19 * Day), // 1 day after the last purchase
			change: func(a, b Result) bool { return a.Scores.R != b.Scores.R },
			due:    30*Day - 3*time.Hour*0, // R 5 -> 4 when recency_days reaches 31
		},
		{
			name:   "churn level",
			mutate: oneRule("true"),
			c:      steady(), now: t0.Add(-19 * Day),
			change: func(a, b Result) bool { return a.Churn.Level != b.Churn.Level },
			due:    33 * Day, // recency 34 days: 20 + 20 ln 2 = 33.9
		},
		{
			name:   "constant crossing",
			mutate: oneRule("recency_days > 45"),
			c:      steady(), now: t0.Add(-19 * Day),
			change: func(a, b Result) bool { return viewOf(a) != viewOf(b) },
			due:    33 * Day, // the churn level comes first ...
		},
		{
			name:   "constant crossing after churn",
			mutate: oneRule("recency_days > 45"),
			c:      steady(), now: t0.Add(20 * Day), // recency 40, level medium, next level at 53
			change: func(a, b Result) bool { return segmentOf(a, "s") != segmentOf(b, "s") },
			due:    6 * Day, // ... then 46 whole days
		},
		{
			name:   "p_alive crossing",
			mutate: oneRule("p_alive >= 0.8"),
			c:      steady(), now: t0.Add(-19 * Day),
			change: func(a, b Result) bool { return segmentOf(a, "s") != segmentOf(b, "s") },
			due:    24 * Day, // recency 25: exp(-5/20) = 0.78
		},
		{
			name:   "rule threshold from other variables",
			mutate: oneRule("clv >= 2 * margin"),
			c:      steady(), now: t0.Add(-19 * Day),
			change: func(a, b Result) bool { return segmentOf(a, "s") != segmentOf(b, "s") },
			due:    31 * Day, // clv = 18.25 p_alive * 3 * 0.9538 < 30 from p_alive < 0.5747, recency 32
		},
		{
			name:   "window expiry",
			mutate: oneRule("frequency >= 1"),
			c:      buy("w", 7, sale{at: t0.Add(-360 * Day), amount: 100}), now: t0,
			change: func(a, b Result) bool { return a.Contrib != b.Contrib && segmentOf(a, "s") != segmentOf(b, "s") },
		},
		{
			name:   "tenure of a prospect",
			mutate: oneRule("tenure_days >= 10"),
			c:      &Customer{ID: "p", FirstSeen: t0.Add(-3*Day - time.Hour)}, now: t0,
			change: func(a, b Result) bool { return segmentOf(a, "s") != segmentOf(b, "s") },
			due:    7*Day - time.Hour,
		},
		{
			name:   "days since contact",
			mutate: oneRule("days_since_contact < 7"),
			c:      &Customer{ID: "p", FirstSeen: t0.Add(-Day), LastContact: t0.Add(-2 * time.Hour)}, now: t0,
			change: func(a, b Result) bool { return segmentOf(a, "s") != segmentOf(b, "s") },
			due:    7*Day - 2*time.Hour,
		},
		{
			name:   "tenure score",
			mutate: func(c *Config) { oneRule("t >= 3")(c); c.Mode = ModeThresholds },
			c:      buy("t", 7, sale{at: t0.Add(-100 * Day), amount: 100}, sale{at: t0.Add(-Day), amount: 100}), now: t0,
			change: func(a, b Result) bool { return a.Scores.T != b.Scores.T },
			due:    81 * Day, // tenure 181 days
		},
		{
			name: "profile input",
			mutate: func(c *Config) {
				oneRule("score.p > 50")(c)
				c.Profiles = Profiles{{Name: "p", Weights: map[string]float64{"recency_days": -1}}}
			},
			c: steady(), now: t0,
			change: func(a, b Result) bool { return a.Metrics.RecencyDays != b.Metrics.RecencyDays },
			due:    Day,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, tc.mutate)
			c := tc.c
			r := e.Evaluate(c, tc.env, tc.now)
			require.False(t, r.NextDue.IsZero())
			require.True(t, r.NextDue.After(tc.now))
			if tc.due != 0 {
				require.Equal(t, tc.now.Add(tc.due), r.NextDue, "due after %s", r.NextDue.Sub(tc.now))
			}
			c.Scores = r.Scores.Packed()
			before := e.Evaluate(c, tc.env, r.NextDue.Add(-time.Second))
			require.Equal(t, viewOf(r), viewOf(before))
			after := e.Evaluate(c, tc.env, r.NextDue)
			require.True(t, tc.change(r, after), "nothing changed at %s (+%s)", r.NextDue, r.NextDue.Sub(tc.now))
		})
	}
}

func TestNextDueBounds(t *testing.T) {
	t.Run("capped at max_due", func(t *testing.T) {
		e := newEngine(t, func(c *Config) { oneRule("true")(c); c.MaxDue = 30 * Day })
		c := buy("old", 7, sale{at: t0.Add(-1000 * Day), amount: 100})
		r := e.Evaluate(c, Env{}, t0)
		require.Equal(t, LevelHigh, r.Churn.Level)
		require.Equal(t, t0.Add(30*Day), r.NextDue)
	})
	t.Run("never for a prospect with nothing time-dependent", func(t *testing.T) {
		e := newEngine(t, nil)
		r := e.Evaluate(&Customer{ID: "p", FirstSeen: t0.Add(-Day), Complaints: 1}, Env{}, t0)
		require.True(t, r.NextDue.IsZero())
	})
	t.Run("quantile recency boundary with hysteresis", func(t *testing.T) {
		e := newEngine(t, func(c *Config) { oneRule("r >= 5")(c); c.MaxDue = 365 * Day })
		pop := population(t, e, uniformCustomers())
		pc := e.cutsFor(pop)
		hi := pc.cuts[scoreR].hi[0]
		c := customerWith("q", 1, 800, 1, 10)
		r := e.Evaluate(c, Env{Population: pop}, t0)
		require.Equal(t, 5, r.Scores.R)
		require.Equal(t, c.LastPurchase.Add(time.Duration(int64(hi)+1)*Day), r.NextDue)
		c.Scores = r.Scores.Packed()
		require.Equal(t, 5, e.Evaluate(c, Env{Population: pop}, r.NextDue.Add(-time.Second)).Scores.R)
		require.Equal(t, 4, e.Evaluate(c, Env{Population: pop}, r.NextDue).Scores.R)
	})
}

// TestNextDueSound evaluates random customers under the default
// configuration and checks that nothing they publish changes before their
// due time (sampled every 3 hours and one second before it).
func TestNextDueSound(t *testing.T) {
	e := newEngine(t, nil)
	pop := population(t, e, uniformCustomers())
	rng := rand.New(rand.NewPCG(7, 8))
	envs := map[string]Env{"heuristic": {Population: pop}, "model": {Population: pop, Model: cdnowModel()}, "no population": {}}
	for name, env := range envs {
		t.Run(name, func(t *testing.T) {
			changedAtDue, n := 0, 300
			if env.Model != nil {
				n = 80 // CLV from the model costs about a hundred times more
			}
			if testing.Short() {
				n /= 5
			}
			for i := range n {
				var ss []sale
				first := rng.Float64() * 700
				k := 1 + rng.IntN(8)
				for j := range k {
					d := first * (1 - float64(j)/float64(k))
					ss = append(ss, sale{at: daysAgo(d), amount: int64(500 + rng.IntN(100000)), margin: int64(rng.IntN(20000)) - 2000})
				}
				if rng.IntN(5) == 0 {
					ss = append(ss, sale{at: daysAgo(rng.Float64() * first), amount: 300, margin: 100, refund: true})
				}
				c := buy(fmt.Sprint("r", i), 7, ss...)
				now := t0.Add(time.Duration(rng.Float64() * float64(60*Day)))
				r := e.Evaluate(c, env, now)
				require.False(t, r.NextDue.IsZero())
				require.False(t, r.NextDue.After(now.Add(30*Day)))
				c.Scores = r.Scores.Packed()
				want := viewOf(r)
				for ts := now.Add(3 * time.Hour); ts.Before(r.NextDue); ts = ts.Add(3 * time.Hour) {
					require.Equal(t, want, viewOf(e.Evaluate(c, env, ts)), "customer %d at %s, due %s", i, ts, r.NextDue)
				}
				require.Equal(t, want, viewOf(e.Evaluate(c, env, r.NextDue.Add(-time.Second))))
				if viewOf(e.Evaluate(c, env, r.NextDue)) != want {
					changedAtDue++
				}
			}
			t.Logf("%s: something published changed at %d of %d due times (the rest are R crossings that keep the segment, threshold crossings of rules whose other conditions do not hold, or the 30-day cap)", name, changedAtDue, n)
		})
	}
}
