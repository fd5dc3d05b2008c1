package scoring

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHoldout(t *testing.T) {
	e := newEngine(t, nil) // 5 %
	const n = 100_000
	held := 0
	for i := range n {
		id := fmt.Sprintf("customer-%d", i)
		h := e.Holdout(id)
		require.Equal(t, h, e.Holdout(id), "deterministic")
		if h {
			held++
		}
	}
	rate := float64(held) / n
	t.Logf("held out %d of %d ids: %.3f %%", held, n, rate*100)
	require.InDelta(t, 0.05, rate, 0.003) // about 4.5 standard deviations

	// The documented formula, so other systems can reproduce the group.
	require.Equal(t, holdout("customer-1", "clienting", 500), e.Holdout("customer-1"))
	other := newEngine(t, func(c *Config) { c.Holdout.Salt = "experiment-2" })
	same := 0
	for i := range 10_000 {
		id := fmt.Sprint(i)
		if e.Holdout(id) && other.Holdout(id) {
			same++
		}
	}
	require.Less(t, same, 60, "another salt draws another group (about 25 expected by chance)")
	none := newEngine(t, func(c *Config) { c.Holdout.Percent = 0 })
	all := newEngine(t, func(c *Config) { c.Holdout.Percent = 100 })
	for i := range 1000 {
		require.False(t, none.Holdout(fmt.Sprint(i)))
		require.True(t, all.Holdout(fmt.Sprint(i)))
	}
	r := all.Evaluate(&Customer{ID: "x"}, Env{}, t0)
	require.True(t, r.Holdout)
}

func TestRecovery(t *testing.T) {
	e := newEngine(t, nil)
	res := func(tier string) Result {
		return Result{Segments: []Assignment{{"rfm", "champions"}, {"value", tier}}}
	}
	cases := []struct {
		tier     string
		severity int
		want     Recovery
	}{
		{"high_performance", 4, Recovery{"p1", "high_performance", 5000}},
		{"high_performance", 3, Recovery{"p1", "high_performance", 3750}},
		{"high_performance", 1, Recovery{"p3", "high_performance", 1250}},
		{"high_potential", 4, Recovery{"p1", "high_potential", 2500}},
		{"high_potential", 2, Recovery{"p3", "high_potential", 1250}},
		{"standard", 4, Recovery{"p2", "standard", 1000}},
		{"standard", 1, Recovery{"p4", "standard", 250}},
		{"below_zero", 4, Recovery{"p3", "below_zero", 0}},
		{"below_zero", 9, Recovery{"p3", "below_zero", 0}}, // clamped to critical
		{"standard", 0, Recovery{"p4", "standard", 250}},   // clamped to low
		{"unlisted", 4, Recovery{"p2", "unlisted", 0}},     // default priority and compensation
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.tier, tc.severity), func(t *testing.T) {
			require.Equal(t, tc.want, e.Recovery(res(tc.tier), tc.severity))
		})
	}
	t.Run("from an evaluation", func(t *testing.T) {
		c := customerWith("vip", 5, 800, 4, 900)
		r := e.Evaluate(c, Env{}, t0)
		require.Equal(t, "high_performance", segmentOf(r, "value"))
		require.Equal(t, Recovery{"p1", "high_performance", 5000}, e.Recovery(r, 4))
	})
	t.Run("no value segmentation", func(t *testing.T) {
		e := newEngine(t, oneRule("true"))
		require.Equal(t, Recovery{"p2", "", 0}, e.Recovery(Result{}, 4))
	})
}
