package clv

import "math"

// CLV returns the discounted expected value of a customer's purchases over
// the next horizonUnits time units (of p.TimeUnit):
//
//	CLV = sum_{k=1..H} (E[Y(k)] - E[Y(k-1)]) v / (1+d)^k
//
// where E[Y(k)] = p.BGNBD.ConditionalExpectedPurchases(k, s.X, s.TX, s.T),
// so each period's expected purchases are discounted at the end of the
// period, d = discountPerUnit, and v is the expected value per purchase:
// p.GammaGamma.ConditionalExpectedValue(s.X, s.Mean) when p.HasGG (the
// population mean when s.X = 0 or s.Mean is unknown, <= 0), otherwise
// s.Mean, or 0 when s.Mean <= 0.
//
// It is 0 for horizonUnits <= 0 and NaN for discountPerUnit <= -1, for
// invalid parameters or an impossible summary. It does not allocate; the
// H values E[Y(k)] are polynomial evaluations after a set-up per customer
// (see the package documentation, "Horizon sums").
func CLV(p Params, s Summary, horizonUnits int, discountPerUnit float64) float64 {
	m := p.BGNBD
	if !m.valid() || !validHistory(s.X, s.TX, s.T) {
		return math.NaN()
	}
	v, done := p.clvValue(s, horizonUnits, discountPerUnit)
	if done {
		return v
	}
	var h horizonCurve
	h.init(m, s.X, s.T, float64(horizonUnits), 1, horizonUnits)
	return m.pAlive(s.X, s.TX, s.T) * v * h.discountedSum(horizonUnits, discountPerUnit, nil, 0)
}

// clvValue returns the value per purchase v of CLV and false, or the
// result of CLV and true when it does not need the sum (NaN discount,
// empty horizon, v = 0 or NaN). Parameters and summary must be valid.
func (p *Params) clvValue(s Summary, horizonUnits int, discountPerUnit float64) (float64, bool) {
	if !(discountPerUnit > -1) {
		return math.NaN(), true
	}
	if horizonUnits <= 0 {
		return 0, true
	}
	v := 0.0
	switch {
	case p.HasGG && s.X >= 1 && s.Mean > 0:
		v = p.GammaGamma.ConditionalExpectedValue(s.X, s.Mean)
	case p.HasGG:
		v = p.GammaGamma.ConditionalExpectedValue(0, 0)
	case s.Mean > 0:
		v = s.Mean
	}
	if v == 0 || math.IsNaN(v) {
		return v, true
	}
	return v, false
}

// Evaluation is what a scorer needs of the model for one customer.
type Evaluation struct {
	PAlive            float64 // BGNBD.PAlive(s.X, s.TX, s.T)
	ExpectedPurchases float64 // BGNBD.ConditionalExpectedPurchases(t, s.X, s.TX, s.T)
	CLV               float64 // CLV(p, s, horizonUnits, discountPerUnit)
}

// Evaluate returns P(alive), the expected purchases in the next t time
// units and the CLV over horizonUnits of one customer, each equal to what
// the separate function returns (NaN in the same cases), in one pass: the
// expected purchases over t are read off the set-up of the CLV sum when t
// is within the CLV horizon (plus one unit).
func (p *Params) Evaluate(s Summary, t float64, horizonUnits int, discountPerUnit float64) Evaluation {
	m := p.BGNBD
	if !m.valid() || !validHistory(s.X, s.TX, s.T) {
		return Evaluation{math.NaN(), math.NaN(), math.NaN()}
	}
	alive := m.pAlive(s.X, s.TX, s.T)
	ev := Evaluation{PAlive: alive}
	tOK := t >= 0 && !math.IsInf(t, 1)
	v, done := p.clvValue(s, horizonUnits, discountPerUnit)
	if done || !tOK || t > float64(horizonUnits)+1 {
		ev.ExpectedPurchases = m.ConditionalExpectedPurchases(t, s.X, s.TX, s.T)
		if done {
			ev.CLV = v
		} else {
			ev.CLV = CLV(*p, s, horizonUnits, discountPerUnit)
		}
		return ev
	}
	var h horizonCurve
	h.init(m, s.X, s.T, max(float64(horizonUnits), t), 1, horizonUnits+1)
	var expected float64
	sum := h.discountedSum(horizonUnits, discountPerUnit, &expected, t)
	ev.ExpectedPurchases = alive * expected
	ev.CLV = alive * v * sum
	return ev
}
