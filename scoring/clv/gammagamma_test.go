package clv

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGammaGammaAgainstQuadrature integrates the individual-level model
// numerically: given nu, the mean of x transactions each Gamma(p, nu) is
// Gamma(px, x nu); nu ~ Gamma(q, gamma) across customers. The density of
// the mean is the integral over nu, and the expected value of the next
// transaction given the mean is E[p/nu | mean].
func TestGammaGammaAgainstQuadrature(t *testing.T) {
	t.Parallel()
	for _, g := range []GammaGamma{{P: 6.25, Q: 3.74, Gamma: 15.44}, {P: 1.2, Q: 0.8, Gamma: 3}, {P: 20, Q: 12, Gamma: 200}} {
		for _, c := range []struct{ x, mean float64 }{{1, 11.77}, {2, 22.35}, {7, 73.74}, {29, 26.26}} {
			logJoint := func(nu float64) float64 {
				return logGammaDensity(c.mean, g.P*c.x, c.x*nu) + logGammaDensity(nu, g.Q, g.Gamma)
			}
			scale := g.Q / g.Gamma
			dens := integrate0Inf(func(nu float64) float64 { return math.Exp(logJoint(nu)) }, scale)
			next := integrate0Inf(func(nu float64) float64 { return math.Exp(math.Log(g.P) - math.Log(nu) + logJoint(nu)) }, scale)

			require.InDelta(t, math.Log(dens), g.LogLikelihood(c.x, c.mean), 1e-9, "%+v %+v", g, c)
			if g.P*c.x+g.Q > 1 {
				require.InEpsilon(t, next/dens, g.ConditionalExpectedValue(c.x, c.mean), 1e-9, "%+v %+v", g, c)
			}
		}
	}
}

func TestGammaGammaConditionalExpectedValue(t *testing.T) {
	t.Parallel()
	g := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	pop := g.P * g.Gamma / (g.Q - 1)
	require.InEpsilon(t, pop, g.ConditionalExpectedValue(0, 0), 1e-15, "x = 0: population mean")
	require.InEpsilon(t, pop, g.ConditionalExpectedValue(0, 1000), 1e-15, "x = 0 ignores the mean")
	// A weighted average of the population mean and the customer's mean,
	// the customer's weight px/(px+q-1) growing with x.
	prevDist := math.Inf(1)
	for _, x := range []float64{1, 2, 5, 20, 100} {
		v := g.ConditionalExpectedValue(x, 80)
		require.Greater(t, v, pop)
		require.Less(t, v, 80.0)
		require.Less(t, 80-v, prevDist)
		prevDist = 80 - v
		w := g.P * x / (g.P*x + g.Q - 1)
		require.InEpsilon(t, (1-w)*pop+w*80, v, 1e-13)
	}
	require.True(t, math.IsNaN(GammaGamma{P: 1, Q: 0.9, Gamma: 1}.ConditionalExpectedValue(0, 0)), "q <= 1: infinite population mean")
	require.True(t, math.IsNaN(g.ConditionalExpectedValue(-1, 3)))
	require.True(t, math.IsNaN(GammaGamma{}.ConditionalExpectedValue(1, 3)))
}

func TestGammaGammaLogLikelihoodDomain(t *testing.T) {
	t.Parallel()
	g := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	for _, c := range [][2]float64{{0, 10}, {0.5, 10}, {1, 0}, {1, -3}, {math.NaN(), 1}, {1, math.Inf(1)}} {
		require.True(t, math.IsNaN(g.LogLikelihood(c[0], c[1])), "%v", c)
	}
	require.True(t, math.IsNaN(GammaGamma{P: -1, Q: 1, Gamma: 1}.LogLikelihood(1, 1)))
}
