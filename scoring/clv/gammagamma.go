package clv

import "math"

func (g GammaGamma) valid() bool {
	return positive(g.P) && positive(g.Q) && positive(g.Gamma)
}

// LogLikelihood returns the log-likelihood of a customer's mean spend per
// transaction, mean, over x >= 1 transactions: the marginal density of the
// mean spend given x (Fader & Hardie 2013, "The Gamma-Gamma Model of
// Monetary Value", brucehardie.com/notes/025):
//
//	f(mean | p, q, gamma; x) = G(px+q)/(G(px) G(q)) gamma^q mean^(px-1) x^(px)
//	                           / (gamma + x mean)^(px+q)
//
// in logs. It returns NaN for x < 1, mean <= 0 or invalid parameters:
// customers without repeat purchases carry no information about spend.
func (g GammaGamma) LogLikelihood(x, mean float64) float64 {
	if !g.valid() || !(x >= 1) || !(mean > 0) || math.IsInf(x, 1) || math.IsInf(mean, 1) {
		return math.NaN()
	}
	px := g.P * x
	return lgamma(px+g.Q) - lgamma(px) - lgamma(g.Q) + g.Q*math.Log(g.Gamma) +
		(px-1)*math.Log(mean) + px*math.Log(x) - (px+g.Q)*math.Log(g.Gamma+x*mean)
}

// ConditionalExpectedValue returns the expected value of a future
// transaction of a customer whose x transactions averaged mean (Fader,
// Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer
// Base Analysis"; Fader & Hardie 2013, eq. (5)):
//
//	E[Z | p, q, gamma, mean, x] = p (gamma + x mean) / (px + q - 1),
//
// a weighted average of the population mean p gamma/(q-1) and the
// customer's own mean. With x = 0 (or mean unknown: pass x = 0) it is the
// population mean. NaN when px+q <= 1 (for x = 0: q <= 1, where the
// population mean is infinite), for negative x or mean, or invalid
// parameters.
func (g GammaGamma) ConditionalExpectedValue(x, mean float64) float64 {
	if !g.valid() || !(x >= 0) || !(mean >= 0) {
		return math.NaN()
	}
	den := g.P*x + g.Q - 1
	if !(den > 0) {
		return math.NaN()
	}
	return g.P * (g.Gamma + x*mean) / den
}
