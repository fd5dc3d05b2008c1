package clv

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// clvPerPoint is CLV as it was computed before horizonCurve: one
// aliveKernel evaluation (series summed from scratch) per period. It is
// the reference of the tests below.
func clvPerPoint(p Params, s Summary, horizonUnits int, discountPerUnit float64) float64 {
	m := p.BGNBD
	if !m.valid() || !validHistory(s.X, s.TX, s.T) {
		return math.NaN()
	}
	v, done := p.clvValue(s, horizonUnits, discountPerUnit)
	if done {
		return v
	}
	k := newAliveKernel(m, s.X, s.T)
	f := 1 / (1 + discountPerUnit)
	disc, prev, sum := 1.0, 0.0, 0.0
	for i := 1; i <= horizonUnits; i++ {
		disc *= f
		cur := k.at(float64(i))
		sum += (cur - prev) * disc
		prev = cur
	}
	return m.pAlive(s.X, s.TX, s.T) * v * sum
}

// relErr is |got/want - 1|, 0 when both are 0.
func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got/want - 1)
}

// TestHorizonCurveMatchesPerPoint compares CLV and Evaluate with the
// per-period evaluation on a grid of parameters (the CDNOW fit and
// extreme ones: r, a, b from 0.02 to 40, a = 1 exactly and near it, alpha
// from 0.05 to 300), histories (x from 0 to 200, new and old customers,
// lapsed and recent) and horizons (1 to 365 units, also beyond the
// horizon for the expected purchases).
func TestHorizonCurveMatchesPerPoint(t *testing.T) {
	t.Parallel()
	type hist struct{ x, tx, T float64 }
	hists := []hist{{0, 0, 0}, {0, 0, 38.86}, {1, 2, 3}, {2, 30.43, 38.86}, {7, 5, 38.86}, {29, 37.71, 38}, {200, 390, 400}}
	horizons := []struct {
		h int
		t float64
	}{{1, 1}, {13, 12.5}, {52, 52.14}, {365, 365}}
	discounts := []float64{0, 0.01 / 52, 0.1}
	var params []BGNBD
	for _, r := range []float64{0.02, 0.243, 3, 40} {
		for _, alpha := range []float64{0.05, 4.414, 300} {
			for _, a := range []float64{0.02, 0.793, 1, 1.0004, 4, 40} {
				for _, b := range []float64{0.02, 2.426, 40} {
					params = append(params, BGNBD{R: r, Alpha: alpha, A: a, B: b})
				}
			}
		}
	}
	if testing.Short() {
		params = params[:len(params)/3]
	}
	maxErr, compared, skipped := 0.0, 0, 0
	kinds := map[int]int{}
	for i, m := range params {
		p := Params{BGNBD: m, GammaGamma: GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}, HasGG: true}
		for j, hs := range hists {
			s := Summary{X: hs.x, TX: hs.tx, T: hs.T, Mean: 20}
			// Every parameter set and history, with one horizon and
			// discount each, so that the grid stays fast.
			hz := horizons[(i+j)%len(horizons)]
			d := discounts[(i+2*j)%len(discounts)]
			want := clvPerPoint(p, s, hz.h, d)
			wantE := m.ConditionalExpectedPurchases(hz.t, s.X, s.TX, s.T)
			if math.IsNaN(want) || math.IsNaN(wantE) || kernelCancellation(m, s.X, s.T, max(float64(hz.h), hz.t)) > 1e5 {
				// The per-point series did not converge (t far beyond
				// alpha+T with c-a-b near an integer), or its terms
				// cancel so much that it is no reference at 1e-9:
				// TestHorizonCurveHighPrecision covers such parameters.
				skipped++
				continue
			}
			var h horizonCurve
			h.init(m, s.X, s.T, float64(hz.h), 1, hz.h)
			kinds[h.kind]++
			name := fmt.Sprintf("%+v %+v H=%d d=%g", m, s, hz.h, d)
			got := CLV(p, s, hz.h, d)
			ev := p.Evaluate(s, hz.t, hz.h, d)
			for _, e := range []float64{relErr(got, want), relErr(ev.CLV, want), relErr(ev.ExpectedPurchases, wantE)} {
				require.LessOrEqual(t, e, 1e-9, name)
				maxErr = max(maxErr, e)
			}
			require.Equal(t, m.PAlive(s.X, s.TX, s.T), ev.PAlive, name)
			compared++
		}
	}
	t.Logf("compared %d, skipped %d (reference NaN), curves %v (kernel, taylor, z), max relative error %.3g", compared, skipped, kinds, maxErr)
	require.Greater(t, compared, len(params)*len(hists)*9/10)
	require.Greater(t, kinds[curveTaylor], 100)
	require.Greater(t, kinds[curveZ], 10)
}

// kernelCancellation returns the ratio of the sizes of the parts of
// aliveKernel's z branch to its result at t (its rounding error in units
// of the machine epsilon, roughly); its w branch is used only where it is
// accurate, so this bounds the error of the kernel.
func kernelCancellation(m BGNBD, x, T, t float64) float64 {
	k := newAliveKernel(m, x, T)
	u := t / k.beta
	z := u / (1 + u)
	a, b, c := k.ap, k.am1, k.c
	term := a * z
	sum, abs := term, math.Abs(term)
	for n := 1; n < hypMaxTerms && math.Abs(term) > 1e-18*abs; n++ {
		fn := float64(n)
		term *= (a + fn) * (b + fn) / ((c + fn) * (fn + 1)) * z
		sum += term
		abs += math.Abs(term)
	}
	l := -math.Log1p(u)
	em := math.Expm1(b * l)
	first := -l
	if b != 0 {
		first = -em / b
	}
	phi := c*first - (1+em)*sum
	return (math.Abs(c*first) + (1+em)*abs) / math.Abs(phi)
}

// TestHorizonCurveHighPrecision compares E[Y(t) | alive] with values of
// (a+b+x-1)/(a-1) [1 - 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T))] computed with
// mpmath at 40 digits, for parameters where the series of aliveKernel
// cancel (it is off by up to 1e-6 for the first set).
func TestHorizonCurveHighPrecision(t *testing.T) {
	t.Parallel()
	cases := []struct{ r, a, b, x, alpha, T, t, want float64 }{
		{40, 0.02, 0.02, 0, 0.05, 0, 1, 353.79675998627118233},
		{40, 0.02, 0.02, 0, 0.05, 0, 7, 2378.8775926192985975},
		{40, 0.02, 0.02, 0, 0.05, 0, 52, 16973.44425860403367},
		{0.02, 40, 0.02, 3, 0.05, 2, 1, 0.728255278470022548},
		{0.02, 40, 0.02, 3, 0.05, 2, 30, 1.0771031801865221695},
		{0.02, 40, 0.02, 3, 0.05, 2, 365, 1.07743568326159571},
		{3, 0.02, 40, 200, 300, 400, 1, 0.28999648031863346092},
		{3, 0.02, 40, 200, 300, 400, 52, 15.070677097115816702},
		{3, 0.02, 40, 200, 300, 400, 365, 105.43906887495243548},
		{0.243, 0.793, 2.426, 0, 4.414, 0, 1, 0.05326789117165828208},
		{0.243, 0.793, 2.426, 0, 4.414, 0, 52, 1.4460505953964037707},
		{0.243, 0.793, 2.426, 0, 4.414, 0, 365, 4.2289012143013668908},
	}
	maxErr := 0.0
	for _, c := range cases {
		m := BGNBD{R: c.r, Alpha: c.alpha, A: c.a, B: c.b}
		for _, n := range []int{1, 365} { // alone, and as the last of many points
			var h horizonCurve
			h.init(m, c.x, c.T, c.t, c.t/float64(n), n)
			out := make([]float64, n)
			h.fill(out, c.t/float64(n), c.t/float64(n))
			e := relErr(out[n-1], c.want)
			require.LessOrEqual(t, e, 1e-12, "%+v, %d points, kind %d", c, n, h.kind)
			maxErr = max(maxErr, e)
		}
	}
	t.Logf("max relative error %.3g", maxErr)
}

// TestHorizonCurveAllPeriods checks every E[Y(k) | alive] of the sum, not
// only the discounted total, for the benchmark customers.
func TestHorizonCurveAllPeriods(t *testing.T) {
	t.Parallel()
	for _, c := range benchCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := c.p.BGNBD
			k := newAliveKernel(m, c.s.X, c.s.T)
			var h horizonCurve
			h.init(m, c.s.X, c.s.T, float64(c.horizon), 1, c.horizon)
			got := make([]float64, c.horizon)
			h.fill(got, 1, 1)
			for i, v := range got {
				require.LessOrEqual(t, relErr(v, k.at(float64(i+1))), 1e-12, "t = %d", i+1)
			}
		})
	}
}

func TestEvaluateEdgeCases(t *testing.T) {
	t.Parallel()
	p := paperParams
	s := Summary{X: 2, TX: 30.43, T: 38.86, Mean: 22.35}
	cases := []struct {
		name     string
		p        Params
		s        Summary
		t        float64
		h        int
		d        float64
		nanAlive bool
	}{
		{name: "horizon 0", p: p, s: s, t: 10, h: 0},
		{name: "t 0", p: p, s: s, t: 0, h: 52},
		{name: "t beyond horizon", p: p, s: s, t: 400, h: 52},
		{name: "t negative", p: p, s: s, t: -1, h: 52},
		{name: "t infinite", p: p, s: s, t: math.Inf(1), h: 52},
		{name: "discount -1", p: p, s: s, t: 52, h: 52, d: -1},
		{name: "no spend model, no mean", p: Params{BGNBD: paperBG}, s: Summary{X: 2, TX: 3, T: 4}, t: 52, h: 52},
		{name: "invalid parameters", p: Params{BGNBD: BGNBD{R: -1, Alpha: 1, A: 1, B: 1}}, s: s, t: 52, h: 52, nanAlive: true},
		{name: "impossible history", p: p, s: Summary{X: 0.5, TX: 1, T: 2}, t: 52, h: 52, nanAlive: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := tc.p.Evaluate(tc.s, tc.t, tc.h, tc.d)
			m := tc.p.BGNBD
			same := func(got, want float64) {
				t.Helper()
				if math.IsNaN(want) {
					require.True(t, math.IsNaN(got), "got %g, want NaN", got)
					return
				}
				require.LessOrEqual(t, relErr(got, want), 1e-12, "got %g, want %g", got, want)
			}
			require.Equal(t, tc.nanAlive, math.IsNaN(ev.PAlive))
			same(ev.PAlive, m.PAlive(tc.s.X, tc.s.TX, tc.s.T))
			same(ev.ExpectedPurchases, m.ConditionalExpectedPurchases(tc.t, tc.s.X, tc.s.TX, tc.s.T))
			same(ev.CLV, CLV(tc.p, tc.s, tc.h, tc.d))
		})
	}
}
