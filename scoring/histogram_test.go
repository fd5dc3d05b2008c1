package scoring

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHistogramRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func() float64
	}{
		{"lognormal money", func() float64 { return math.Round(math.Exp(4+1.5*rng.NormFloat64())*100) / 100 }},
		{"pareto tail", func() float64 { return 10 / math.Pow(rng.Float64()+1e-12, 1/1.2) }},
		{"uniform 1..1e6", func() float64 { return 1 + rng.Float64()*1e6 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 200_000
			vals := make([]float64, n)
			h := NewLogHistogram(MonetaryAlpha)
			// Two halves merged, as partitions are.
			h2 := NewLogHistogram(MonetaryAlpha)
			for i := range vals {
				vals[i] = tc.gen()
				if i%2 == 0 {
					h.Add(vals[i], 1)
				} else {
					h2.Add(vals[i], 1)
				}
			}
			require.NoError(t, h.Merge(h2))
			require.Equal(t, int64(n), h.Count())
			slices.Sort(vals)
			worst := 0.0
			for q := 0.0; q <= 1.0; q += 0.01 {
				exact := vals[int(q*float64(n-1))]
				got := h.Quantile(q)
				rel := math.Abs(got-exact) / exact
				worst = math.Max(worst, rel)
			}
			t.Logf("%s: worst relative error over 101 quantiles of %d values: %.4f%% (alpha %.2f%%), %d bins",
				tc.name, n, worst*100, MonetaryAlpha*100, len(h.counts))
			require.LessOrEqual(t, worst, MonetaryAlpha*(1+1e-9))
		})
	}
}

func TestHistogramExactAndSigned(t *testing.T) {
	t.Run("exact bins", func(t *testing.T) {
		h := NewExactHistogram()
		for d := int64(20000); d < 20100; d++ {
			h.Add(float64(d), 1)
		}
		require.Equal(t, 20000.0, h.Quantile(0))
		require.Equal(t, 20049.0, h.Quantile(0.5))
		require.Equal(t, 20099.0, h.Quantile(1))
		require.Equal(t, int32(20000), h.BinOf(20000))
		require.Equal(t, 20000.0, h.BinValue(20000))
	})
	t.Run("bins ordered like values across sign", func(t *testing.T) {
		h := NewLogHistogram(MonetaryAlpha)
		vals := []float64{-1e6, -50, -0.5, -1e-12, 0, 1e-12, 0.01, 1, 1.01, 50, 1e9}
		var prev int32 = math.MinInt32
		for _, v := range vals {
			b := h.BinOf(v)
			require.GreaterOrEqual(t, b, prev, "bin of %g", v)
			prev = b
			if math.Abs(v) >= minIndexable {
				require.InEpsilon(t, v, h.BinValue(b), MonetaryAlpha*(1+1e-9), "value of bin of %g", v)
			} else {
				require.Equal(t, 0.0, h.BinValue(b))
			}
		}
	})
	t.Run("add and remove", func(t *testing.T) {
		h := NewLogHistogram(MonetaryAlpha)
		h.Add(10, 1)
		h.Add(20, 2)
		h.Add(10, -1)
		require.Equal(t, int64(2), h.Count())
		require.Len(t, h.counts, 1, "emptied bins are dropped")
		require.InEpsilon(t, 20, h.Quantile(0.5), MonetaryAlpha)
		h.AddBin(h.BinOf(5), -1) // a removal before its addition
		require.Equal(t, int64(2), h.Count(), "negative bins count as empty")
		require.InEpsilon(t, 20, h.Quantile(0), MonetaryAlpha)
	})
	t.Run("empty and mismatched", func(t *testing.T) {
		require.True(t, math.IsNaN(NewExactHistogram().Quantile(0.5)))
		require.ErrorIs(t, NewExactHistogram().Merge(NewLogHistogram(0.01)), ErrHistogramKind)
	})
}

func TestContribRoundTrip(t *testing.T) {
	cases := []Contrib{
		{},
		{Active: true},
		{Active: true, Recency: 20240, Frequency: 3, Monetary: monetaryLayout.BinOf(123.45), Tenure: 19000},
		{Active: true, Recency: -5, Frequency: math.MaxInt32, Monetary: -monetaryLayout.BinOf(7), Tenure: math.MinInt32},
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			got, err := ParseContrib(c.String())
			require.NoError(t, err)
			require.Equal(t, c, got)
			require.LessOrEqual(t, len(c.String()), 4*7+3)
		})
	}
	require.Equal(t, "", Contrib{}.String())
	for _, bad := range []string{"1.2.3", "1.2.3.x!", "1.2.3.4.5", "zzzzzzzzz.1.1.1"} {
		_, err := ParseContrib(bad)
		require.Error(t, err, bad)
	}
}

func TestPopulationPareto(t *testing.T) {
	p := NewPopulation(t0)
	// 20 customers with 400 each (8000) and 80 with 25 each (2000): the 20
	// make exactly 80 % of revenue.
	for range 20 {
		p.Monetary.Add(400, 1)
	}
	for range 80 {
		p.Monetary.Add(25, 1)
	}
	require.InEpsilon(t, 400, p.ParetoThreshold(), MonetaryAlpha)
	require.InDelta(t, 0.2, p.ParetoShare(), 1e-9)
	require.True(t, math.IsNaN(NewPopulation(t0).ParetoThreshold()))
}

func TestPopulationMerge(t *testing.T) {
	a, b := NewPopulation(t0), NewPopulation(t0)
	c1 := Contrib{Active: true, Recency: 20000, Frequency: 2, Monetary: monetaryLayout.BinOf(10), Tenure: 19000}
	c2 := Contrib{Active: true, Recency: 20010, Frequency: 1, Monetary: monetaryLayout.BinOf(99), Tenure: 19500}
	a.Add(c1, 1)
	b.Add(c2, 1)
	b.Add(Contrib{}, 1) // in no histogram
	require.NoError(t, a.Merge(b))
	require.Equal(t, int64(2), a.Active())
	a.Add(c1, -1) // the customer moved away
	require.Equal(t, int64(1), a.Active())
	require.Equal(t, 20010.0, a.Recency.Quantile(0.5))
	require.ErrorIs(t, (&Population{}).Merge(b), ErrHistogramKind)
	var nilPop *Population
	require.Zero(t, nilPop.Active())
}
