package scoring

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDefaultSegmentsReachable builds, for every segment of every default
// segmentation, a customer that lands in it.
func TestDefaultSegmentsReachable(t *testing.T) {
	e := newEngine(t, nil)
	pop := population(t, e, uniformCustomers())
	with := func(c *Customer, f func(*Customer)) *Customer { f(c); return c }
	cases := []struct {
		seg, want string
		c         *Customer
		env       Env
	}{
		// rfm, by thresholds (no population): R by recency [30, 60, 120, 240],
		// F by frequency [1, 2, 4, 8], M by monetary [50, 150, 400, 1000].
		{"rfm", "champions", customerWith("c", 5, 800, 9, 2000), Env{}},
		{"rfm", "new", customerWith("c", 5, 5, 1, 30), Env{}},
		{"rfm", "loyal", customerWith("c", 100, 800, 5, 300), Env{}},
		{"rfm", "potential_loyalist", customerWith("c", 5, 800, 2, 100), Env{}},
		{"rfm", "promising", with(customerWith("c", 45, 800, 1, 30), func(c *Customer) { c.Purchases = 3 }), Env{}},
		{"rfm", "cant_lose", customerWith("c", 250, 800, 9, 2000), Env{}},
		{"rfm", "at_risk", customerWith("c", 150, 800, 5, 300), Env{}},
		{"rfm", "need_attention", customerWith("c", 100, 800, 2, 100), Env{}},
		{"rfm", "about_to_sleep", customerWith("c", 100, 800, 1, 30), Env{}},
		{"rfm", "hibernating", customerWith("c", 150, 800, 1, 30), Env{}},
		{"rfm", "lost", customerWith("c", 250, 800, 1, 30), Env{}},
		{"rfm", "prospect", &Customer{ID: "p", FirstSeen: daysAgo(3), Contacts: 1}, Env{}},
		{"rfm", "champions", customerWith("c", 2, 1200, 5, 990), Env{Population: pop}},
		{"rfm", "lost", customerWith("c", 240, 320, 1, 10), Env{Population: pop}},

		{"value", "below_zero", with(customerWith("c", 5, 800, 2, 100), func(c *Customer) { c.Window[0].Margin = -100 }), Env{}},
		{"value", "high_performance", customerWith("c", 5, 800, 4, 500), Env{}},
		{"value", "high_potential", customerWith("c", 2, 12, 2, 100), Env{}},
		{"value", "standard", customerWith("c", 230, 300, 5, 100), Env{}},
		{"value", "standard", &Customer{ID: "p"}, Env{}},

		{"loyalty", "platinum", with(customerWith("c", 5, 800, 20, 6000), func(c *Customer) { c.Money = 600000 }), Env{}},
		{"loyalty", "gold", with(customerWith("c", 5, 800, 12, 2500), func(c *Customer) { c.Money = 250000 }), Env{}},
		{"loyalty", "silver", with(customerWith("c", 5, 800, 4, 600), func(c *Customer) { c.Money = 60000 }), Env{}},
		{"loyalty", "bronze", customerWith("c", 5, 800, 30, 100), Env{}},
		{"loyalty", "none", &Customer{ID: "p"}, Env{}},

		{"pareto", "top", customerWith("c", 5, 800, 3, 990), Env{Population: pop}},
		{"pareto", "rest", customerWith("c", 5, 800, 3, 10), Env{Population: pop}},
		{"pareto", "rest", customerWith("c", 5, 800, 3, 990), Env{}},
	}
	seen := map[string]map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.seg+"/"+tc.want, func(t *testing.T) {
			r := e.Evaluate(tc.c, tc.env, t0)
			require.NoError(t, r.Err)
			require.Equal(t, tc.want, segmentOf(r, tc.seg), "scores %+v metrics %+v", r.Scores, r.Metrics)
		})
		if seen[tc.seg] == nil {
			seen[tc.seg] = map[string]bool{}
		}
		seen[tc.seg][tc.want] = true
	}
	for _, s := range e.cfg.Segmentations {
		for _, r := range s.Rules {
			require.True(t, seen[s.Name][r.Segment], "segment %s/%s has no case", s.Name, r.Segment)
		}
		require.True(t, seen[s.Name][s.Default], "default %s/%s has no case", s.Name, s.Default)
	}
}

func TestRuleVariables(t *testing.T) {
	e := newEngine(t, func(c *Config) {
		c.Mode = ModeThresholds
		c.Holdout.Percent = 100
		c.Segmentations = []Segmentation{
			{Name: "first", Rules: []Rule{{Segment: "rich", When: `monetary > 100 && rfm == "555" && churn == "low"`}}},
			{Name: "second", Rules: []Rule{
				{Segment: "rich_and_loyal", When: `segment.first == "rich" && score.retention >= 90 && holdout`},
				{Segment: "bracket", When: `segment["first"] == "other" && score["retention"] < 90`},
			}},
			{Name: "quant", Mode: ModeQuantile, Rules: []Rule{{Segment: "q5", When: "m == 5"}}},
			{Name: "all", Rules: []Rule{{Segment: "x", When: `(pareto || !pareto) && t >= 1 && f >= 1 && fm > 0 && r > 0 &&
				recency_days >= 0 && frequency >= 0 && margin >= -1e9 && profit >= -1e9 && tenure_days >= 0 &&
				lifetime_money >= -1e9 && lifetime_margin >= -1e9 && lifetime_purchases >= 0 && avg_order_value >= -1e9 &&
				refunds >= 0 && refund_rate >= 0 && open_complaints >= 0 && open_complaint_severity >= 0 && complaints >= 0 &&
				contacts >= 0 && contacts_since_purchase >= 0 && responses >= 0 && response_rate >= 0 &&
				days_since_contact >= 0 && p_alive >= 0 && expected_purchases >= 0 && clv >= -1e9 &&
				score.upsell >= 0 && score.winback >= 0`}}},
		}
	})
	pop := population(t, e, uniformCustomers())
	c := customerWith("v", 1, 800, 9, 2000)
	r := e.Evaluate(c, Env{Population: pop}, t0)
	require.NoError(t, r.Err)
	require.Equal(t, []Assignment{{"first", "rich"}, {"second", "rich_and_loyal"}, {"quant", "q5"}, {"all", "x"}}, r.Segments)
	c2 := customerWith("v", 200, 800, 1, 20)
	r = e.Evaluate(c2, Env{Population: pop}, t0)
	require.Equal(t, []Assignment{{"first", "other"}, {"second", "bracket"}, {"quant", "other"}, {"all", "x"}}, r.Segments)

	t.Run("runtime error", func(t *testing.T) {
		e := newEngine(t, func(c *Config) {
			c.Segmentations = []Segmentation{{Name: "div", Rules: []Rule{{Segment: "a", When: "frequency % open_complaints == 0"}, {Segment: "b", When: "true"}}}}
		})
		r := e.Evaluate(customerWith("d", 1, 10, 1, 1), Env{}, t0)
		require.Equal(t, "b", segmentOf(r, "div"))
		require.ErrorContains(t, r.Err, `segmentation "div" rule 0 (segment "a")`)
	})
}

func TestBadRules(t *testing.T) {
	cases := []struct {
		name string
		when string
		want []string
	}{
		{"typo", "r >= 4 && frquency > 2", []string{"unknown name frquency", "line 1, column 11"}}, //nolint:misspell // the typo under test
		{"second line", "r >= 4 &&\n  monetery > 2", []string{"unknown name monetery", "line 2, column 3"}},
		{"unknown profile", "score.retnetion > 50", []string{"unknown name score.retnetion"}},
		{"later segmentation", `segment.later == "x"`, []string{"unknown name segment.later"}},
		{"own segmentation", `segment.bad == "x"`, []string{"unknown name segment.bad"}},
		{"not bool", "r + 1", []string{"expected bool"}},
		{"type", `rfm > 3`, []string{"invalid operation"}},
		{"syntax", "r >= ", []string{"unexpected token"}},
		{"no clock in rules", "now().Year() > 2000", []string{"now"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Segmentations = append(cfg.Segmentations[:1:1],
				Segmentation{Name: "bad", Rules: []Rule{{Segment: "ok", When: "true"}, {Segment: "broken", When: tc.when}}},
				Segmentation{Name: "later", Rules: []Rule{{Segment: "x", When: "true"}}},
				Segmentation{Name: "value", Rules: []Rule{{Segment: "x", When: "true"}}})
			_, err := NewEngine(cfg)
			require.ErrorIs(t, err, ErrConfig)
			require.ErrorContains(t, err, `scoring.segmentations[1].rules[1].when: segmentation "bad" rule 1 (segment "broken")`)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			t.Log(err)
		})
	}
}

// TestConcurrentEvaluate runs partition workers against one engine while
// the population is refreshed (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	e := newEngine(t, nil)
	cs := uniformCustomers()
	pops := []*Population{population(t, e, cs), population(t, e, cs[:500])}
	want := make([]Result, len(cs))
	for i, c := range cs {
		want[i] = e.Evaluate(c, Env{Population: pops[i%2]}, t0)
	}
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			var r Result
			for i := w; i < len(cs); i += 4 {
				c := *cs[i] // each worker owns its customers
				e.EvaluateTo(&r, &c, Env{Population: pops[i%2]}, t0)
				if r.Segments[0] != want[i].Segments[0] || r.NextDue != want[i].NextDue {
					t.Errorf("customer %d: got %v due %s, want %v due %s", i, r.Segments, r.NextDue, want[i].Segments, want[i].NextDue)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func TestEngineInfo(t *testing.T) {
	e := newEngine(t, nil)
	names := e.SegmentNames()
	require.Equal(t, []string{"top", "rest"}, names["pareto"])
	require.Len(t, names["rfm"], 12)
	require.Equal(t, "standard", names["value"][3])
	require.Len(t, e.Version(), 12)
	cfg := e.Config()
	cfg.Caps["clv"] = 1 // a copy: the engine is unaffected
	require.NotContains(t, e.Config().Caps, "clv")
}
