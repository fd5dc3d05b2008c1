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
// invalid parameters or an impossible summary. It does not allocate; its
// cost is horizonUnits evaluations of a series whose length grows as
// k/(alpha+T+k) nears 1 (see the package documentation).
func CLV(p Params, s Summary, horizonUnits int, discountPerUnit float64) float64 {
	m := p.BGNBD
	if !m.valid() || !validHistory(s.X, s.TX, s.T) || !(discountPerUnit > -1) {
		return math.NaN()
	}
	if horizonUnits <= 0 {
		return 0
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
