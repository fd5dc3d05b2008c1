package clv

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// paperParams is the CDNOW fit in weeks with the Gamma-Gamma fit of
// Fader & Hardie (2013).
var paperParams = Params{
	BGNBD:      paperBG,
	GammaGamma: GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
	HasGG:      true,
}

var clvCustomers = []struct {
	name string
	s    Summary
}{
	{"new", Summary{X: 0, TX: 0, T: 0}},
	{"one-off", Summary{X: 0, TX: 0, T: 38.86}},
	{"regular", Summary{X: 2, TX: 30.43, T: 38.86, Mean: 22.35}},
	{"lapsed", Summary{X: 7, TX: 5, T: 38.86, Mean: 73.74}},
	{"heavy", Summary{X: 29, TX: 37.71, T: 38, Mean: 26.26}},
}

func TestCLVMonotone(t *testing.T) {
	t.Parallel()
	for _, c := range clvCustomers {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			prev := 0.0
			for h := 1; h <= 156; h++ {
				v := CLV(paperParams, c.s, h, 0.01)
				require.Greater(t, v, prev, "increasing in the horizon, h = %d", h)
				prev = v
			}
			prev = math.Inf(1)
			for _, d := range []float64{0, 0.001, 0.005, 0.01, 0.05, 0.2} {
				v := CLV(paperParams, c.s, 52, d)
				require.Less(t, v, prev, "decreasing in the discount rate, d = %g", d)
				prev = v
			}
		})
	}
}

func TestCLVDefinition(t *testing.T) {
	t.Parallel()
	m := paperParams.BGNBD
	for _, c := range clvCustomers {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := c.s
			v := paperParams.GammaGamma.ConditionalExpectedValue(s.X, s.Mean)
			if s.X == 0 {
				v = paperParams.GammaGamma.ConditionalExpectedValue(0, 0)
			}
			// Undiscounted: expected purchases over the horizon times value.
			require.InEpsilon(t, m.ConditionalExpectedPurchases(52, s.X, s.TX, s.T)*v, CLV(paperParams, s, 52, 0), 1e-12)
			// Discounted: the sum of the definition, term by term.
			var want float64
			for k := 1; k <= 52; k++ {
				inc := m.ConditionalExpectedPurchases(float64(k), s.X, s.TX, s.T) - m.ConditionalExpectedPurchases(float64(k-1), s.X, s.TX, s.T)
				want += inc * v / math.Pow(1.01, float64(k))
			}
			require.InEpsilon(t, want, CLV(paperParams, s, 52, 0.01), 1e-12)
		})
	}
}

func TestCLVValue(t *testing.T) {
	t.Parallel()
	s := Summary{X: 2, TX: 30.43, T: 38.86, Mean: 22.35}
	purchases := paperBG.ConditionalExpectedPurchases(52, s.X, s.TX, s.T)

	noGG := Params{BGNBD: paperBG}
	require.InEpsilon(t, purchases*22.35, CLV(noGG, s, 52, 0), 1e-12, "without Gamma-Gamma: the customer's mean")
	require.Zero(t, CLV(noGG, Summary{X: 0, T: 10}, 52, 0), "without Gamma-Gamma and no mean: 0")
	require.Zero(t, CLV(paperParams, s, 0, 0.01), "no horizon")
	require.Zero(t, CLV(paperParams, s, -5, 0.01), "negative horizon")

	unknownMean := Summary{X: 2, TX: 30.43, T: 38.86}
	pop := paperParams.GammaGamma.ConditionalExpectedValue(0, 0)
	require.InEpsilon(t, purchases*pop, CLV(paperParams, unknownMean, 52, 0), 1e-12, "unknown mean: the population mean")

	require.True(t, math.IsNaN(CLV(paperParams, s, 52, -1)))
	require.True(t, math.IsNaN(CLV(paperParams, Summary{X: 1, TX: 5, T: 3}, 52, 0.01)))
	require.True(t, math.IsNaN(CLV(Params{}, s, 52, 0.01)))
}
