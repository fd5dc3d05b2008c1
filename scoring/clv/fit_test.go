package clv

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// simulateBGNBD draws n customers from BG/NBD and Gamma-Gamma: customers
// make their first purchase uniformly in the first 12 weeks of a 39-week
// observation period (so T is in (27, 39], as in the CDNOW calibration
// period), purchase as a Poisson process with rate lambda ~ Gamma(r, alpha)
// and drop out after each repeat purchase with probability p ~ Beta(a, b);
// each purchase is worth z ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) per
// customer. Mean is the mean value of the repeat purchases.
func simulateBGNBD(rng *rand.Rand, n int, m BGNBD, g GammaGamma) []Summary {
	lam := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: rng}
	drop := distuv.Beta{Alpha: m.A, Beta: m.B, Src: rng}
	nu := distuv.Gamma{Alpha: g.Q, Beta: g.Gamma, Src: rng}
	out := make([]Summary, n)
	var times []float64
	for i := range out {
		T := 39 - 12*rng.Float64()
		times = times[:0]
		x := simulatePurchases(rng, lam.Rand(), drop.Rand(), T, &times)
		s := Summary{X: float64(x), T: T}
		if x > 0 {
			s.TX = times[x-1]
			spend := distuv.Gamma{Alpha: g.P, Beta: nu.Rand(), Src: rng}
			for range x {
				s.Mean += spend.Rand()
			}
			s.Mean /= float64(x)
		}
		out[i] = s
	}
	return out
}

// TestParameterRecovery fits the models to customers simulated from known
// parameters (those of the brief: r = 0.25, alpha = 4, a = 0.8, b = 2.5 in
// weeks, p = 6, q = 4, gamma = 15) and requires every estimate within 10 %
// of the truth and within 3.5 standard errors (from the observed
// information); with -short, 8,000 instead of 100,000 customers and 25 %.
func TestParameterRecovery(t *testing.T) {
	t.Parallel()
	n, tol := 100_000, 0.10
	if testing.Short() {
		n, tol = 8_000, 0.25
	}
	trueBG := BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}
	trueGG := GammaGamma{P: 6, Q: 4, Gamma: 15}
	data := simulateBGNBD(rand.New(rand.NewPCG(2005, 24)), n, trueBG, trueGG)

	start := time.Now()
	p, err := Fit(data, FitOptions{TimeUnit: 7 * 24 * time.Hour})
	require.NoError(t, err)
	t.Logf("fit of %d customers in %v", n, time.Since(start))
	require.True(t, p.HasGG)
	require.GreaterOrEqual(t, p.LogLik, trueBG.TotalLogLikelihood(data), "the optimum is at least as likely as the truth")

	bd, err := newBGData(data)
	require.NoError(t, err)
	bgSE := logParamSE(t, []float64{p.BGNBD.R, p.BGNBD.Alpha, p.BGNBD.A, p.BGNBD.B}, func(x, grad []float64) {
		bd.logLik(BGNBD{R: math.Exp(x[0]), Alpha: math.Exp(x[1]), A: math.Exp(x[2]), B: math.Exp(x[3])}, grad)
	})
	gd := newGGData(data)
	ggSE := logParamSE(t, []float64{p.GammaGamma.P, p.GammaGamma.Q, p.GammaGamma.Gamma}, func(x, grad []float64) {
		gd.logLik(GammaGamma{P: math.Exp(x[0]), Q: math.Exp(x[1]), Gamma: math.Exp(x[2])}, grad)
	})
	for _, c := range []struct {
		name      string
		got, want float64
		se        float64 // standard error of ln(got)
	}{
		{"r", p.BGNBD.R, trueBG.R, bgSE[0]},
		{"alpha", p.BGNBD.Alpha, trueBG.Alpha, bgSE[1]},
		{"a", p.BGNBD.A, trueBG.A, bgSE[2]},
		{"b", p.BGNBD.B, trueBG.B, bgSE[3]},
		{"p", p.GammaGamma.P, trueGG.P, ggSE[0]},
		{"q", p.GammaGamma.Q, trueGG.Q, ggSE[1]},
		{"gamma", p.GammaGamma.Gamma, trueGG.Gamma, ggSE[2]},
	} {
		z := math.Log(c.got/c.want) / c.se
		t.Logf("%-5s = %7.4f (true %6.3f, %+5.1f %%, standard error %4.1f %%, z = %+.2f)",
			c.name, c.got, c.want, 100*(c.got/c.want-1), 100*c.se, z)
		require.InEpsilon(t, c.want, c.got, tol, c.name)
		require.Less(t, math.Abs(z), 3.5, c.name)
	}
}

// logParamSE returns the standard errors of the maximum-likelihood
// estimates of the log-parameters at params, from the observed information:
// the Hessian of the log-likelihood by central differences of its analytic
// gradient.
func logParamSE(t *testing.T, params []float64, grad func(x, grad []float64)) []float64 {
	t.Helper()
	k := len(params)
	x := make([]float64, k)
	for i, v := range params {
		x[i] = math.Log(v)
	}
	h := mat.NewSymDense(k, nil)
	gp, gm := make([]float64, k), make([]float64, k)
	const step = 1e-4
	for i := range k {
		xi := x[i]
		x[i] = xi + step
		grad(x, gp)
		x[i] = xi - step
		grad(x, gm)
		x[i] = xi
		for j := 0; j <= i; j++ {
			h.SetSym(i, j, -(gp[j]-gm[j])/(2*step))
		}
	}
	var chol mat.Cholesky
	require.True(t, chol.Factorize(h), "the observed information is positive definite")
	var cov mat.SymDense
	require.NoError(t, chol.InverseTo(&cov))
	se := make([]float64, k)
	for i := range se {
		se[i] = math.Sqrt(cov.At(i, i))
	}
	return se
}

func TestFitErrors(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	data := simulateBGNBD(rng, 300, BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}, GammaGamma{P: 6, Q: 4, Gamma: 15})

	t.Run("too few customers", func(t *testing.T) {
		_, _, err := FitBGNBD(data[:10], FitOptions{})
		require.ErrorIs(t, err, ErrInsufficientData)
		require.EqualError(t, err, "clv: fit BG/NBD: need at least 100 customers, have 10")
	})
	t.Run("too few repeat buyers", func(t *testing.T) {
		_, _, err := FitGammaGamma(data[:20], FitOptions{})
		require.ErrorIs(t, err, ErrInsufficientData)
		require.ErrorContains(t, err, "clv: fit Gamma-Gamma: need at least 50 customers with repeat purchases, have ")
	})
	t.Run("Fit without enough repeat buyers", func(t *testing.T) {
		p, err := Fit(data, FitOptions{MinRepeatBuyers: 10_000})
		require.NoError(t, err)
		require.False(t, p.HasGG)
		require.Zero(t, p.GammaGamma)
	})
	t.Run("invalid summary", func(t *testing.T) {
		bad := append([]Summary(nil), data...)
		bad[17] = Summary{X: 2, TX: 40, T: 30}
		_, _, err := FitBGNBD(bad, FitOptions{})
		require.ErrorIs(t, err, ErrInvalidSummary)
		require.ErrorContains(t, err, "clv: fit BG/NBD: data[17] = {X: 2, TX: 40, T: 30}")
	})
	t.Run("not converged", func(t *testing.T) {
		_, _, err := FitBGNBD(data, FitOptions{MaxIterations: 1})
		require.ErrorIs(t, err, ErrNotConverged)
		require.ErrorContains(t, err, "clv: fit BG/NBD: optimiser did not converge from 3 starting points: last status")
	})
	t.Run("options", func(t *testing.T) {
		for _, c := range []struct {
			opt  FitOptions
			want string
		}{
			{FitOptions{Penalizer: -1}, "clv: Penalizer = -1: must be finite and >= 0: invalid fit options"},
			{FitOptions{Penalizer: math.NaN()}, "clv: Penalizer = NaN: must be finite and >= 0: invalid fit options"},
			{FitOptions{MinCustomers: -3}, "clv: MinCustomers = -3: must be >= 1: invalid fit options"},
			{FitOptions{MinRepeatBuyers: -1}, "clv: MinRepeatBuyers = -1: must be >= 1: invalid fit options"},
			{FitOptions{MaxIterations: -1}, "clv: MaxIterations = -1: must be >= 1: invalid fit options"},
			{FitOptions{TimeUnit: -time.Hour}, "clv: TimeUnit = -1h0m0s: must be > 0: invalid fit options"},
		} {
			require.EqualError(t, c.opt.Validate(), c.want)
			_, err := Fit(data, c.opt)
			require.ErrorIs(t, err, ErrInvalidOptions)
		}
		require.NoError(t, FitOptions{}.Validate())
	})
}

func TestFitFillsParams(t *testing.T) {
	t.Parallel()
	data := simulateBGNBD(rand.New(rand.NewPCG(5, 6)), 2000, BGNBD{R: 0.25, Alpha: 4, A: 0.8, B: 2.5}, GammaGamma{P: 6, Q: 4, Gamma: 15})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opt := FitOptions{TimeUnit: 7 * 24 * time.Hour, Now: now}
	p, err := Fit(data, opt)
	require.NoError(t, err)
	require.Equal(t, 2000, p.N)
	require.Equal(t, now, p.FittedAt)
	require.Equal(t, 7*24*time.Hour, p.TimeUnit)
	require.True(t, p.HasGG)
	require.InDelta(t, p.BGNBD.TotalLogLikelihood(data), p.LogLik, 1e-9)
	require.Regexp(t, "^[0-9a-f]{12}$", p.Version)

	again, err := Fit(data, opt)
	require.NoError(t, err)
	require.Equal(t, p, again, "fits are deterministic")

	opt.Now = now.Add(time.Hour)
	later, err := Fit(data, opt)
	require.NoError(t, err)
	require.NotEqual(t, p.Version, later.Version)

	// The penalty shrinks the parameters and costs likelihood.
	opt.Penalizer = 0.01
	pen, err := Fit(data, opt)
	require.NoError(t, err)
	require.Less(t, pen.LogLik, p.LogLik)
	require.Less(t, pen.BGNBD.B, p.BGNBD.B)
}

// TestFitStationary checks that the optimum found is a maximum: moving any
// log-parameter by 1 % lowers the likelihood.
func TestFitStationary(t *testing.T) {
	t.Parallel()
	data := simulateBGNBD(rand.New(rand.NewPCG(8, 9)), 3000, BGNBD{R: 0.6, Alpha: 2, A: 1.2, B: 4}, GammaGamma{P: 3, Q: 2.5, Gamma: 8})
	m, ll, err := FitBGNBD(data, FitOptions{})
	require.NoError(t, err)
	for i := range 4 {
		for _, f := range []float64{0.99, 1.01} {
			v := [4]float64{m.R, m.Alpha, m.A, m.B}
			v[i] *= f
			require.Less(t, BGNBD{R: v[0], Alpha: v[1], A: v[2], B: v[3]}.TotalLogLikelihood(data), ll)
		}
	}
	g, gll, err := FitGammaGamma(data, FitOptions{})
	require.NoError(t, err)
	for i := range 3 {
		for _, f := range []float64{0.99, 1.01} {
			v := [3]float64{g.P, g.Q, g.Gamma}
			v[i] *= f
			var sum float64
			for _, s := range data {
				if s.X >= 1 {
					sum += GammaGamma{P: v[0], Q: v[1], Gamma: v[2]}.LogLikelihood(s.X, s.Mean)
				}
			}
			require.Less(t, sum, gll)
		}
	}
}
