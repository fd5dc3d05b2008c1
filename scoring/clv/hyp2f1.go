package clv

import "math"

const (
	// hypMaxTerms caps every hypergeometric series summed in this package.
	// The terms of 2F1 at z decay like n^k z^n, so about
	// (36 + k ln n) / -ln(z) terms reach double precision: 350 at z = 0.9,
	// 3,700 at z = 0.99, 40,000 at z = 0.999. Beyond the cap the result is
	// NaN rather than a silently truncated sum.
	hypMaxTerms = 200_000

	// hypTol is the relative size of the bound on the neglected tail at
	// which a series is stopped.
	hypTol = 1e-16

	// hypNearOne is where Hyp2F1 switches to the 1-z connection formula
	// when that formula is well conditioned.
	hypNearOne = 0.9

	// hypMinIntDist is how far c-a-b must be from an integer for the
	// connection formula, whose two terms grow like 1/dist(c-a-b, Z) and
	// cancel, to lose no more than about two digits.
	hypMinIntDist = 0.05
)

// Hyp2F1 returns the Gauss hypergeometric function
//
//	2F1(a, b; c; z) = sum_n (a)_n (b)_n / ((c)_n n!) z^n
//
// for 0 <= z < 1. It returns NaN for z outside [0, 1), for c a non-positive
// integer, for NaN arguments, and when the series has not converged within
// a cap of 200,000 terms (only for z within about 1e-4 of 1 with c-a-b
// within 0.05 of an integer).
//
// Method: the power series, each term from the previous one by the ratio
// (a+n)(b+n)z/((c+n)(n+1)), stopped when a geometric bound on the
// remaining tail falls below 1e-16 of the sum. When c-a-b < 0 the terms
// decay like n^(a+b-c-1) z^n, slowly, and Euler's transformation
// 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z) (Abramowitz & Stegun
// 15.3.3) is summed instead. For z > 0.9 with c-a-b at least 0.05 from an
// integer, the connection formula to 1-z (A&S 15.3.6) is used; both of its
// series then converge at least like 0.1^n.
func Hyp2F1(a, b, c, z float64) float64 {
	switch {
	case math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(c) || math.IsNaN(z):
		return math.NaN()
	case math.IsInf(a, 0) || math.IsInf(b, 0) || math.IsInf(c, 0):
		return math.NaN()
	case z < 0 || z >= 1:
		return math.NaN()
	case isNonPosInt(c):
		return math.NaN()
	case z == 0 || a == 0 || b == 0:
		return 1
	}
	d := c - a - b
	terminates := isNonPosInt(a) || isNonPosInt(b)
	if z > hypNearOne && !terminates && math.Abs(d-math.Round(d)) >= hypMinIntDist {
		return hypConnect(a, b, c, d, z)
	}
	if d < 0 && !terminates {
		s, ok := hypSeries(c-a, c-b, c, z)
		if !ok {
			return math.NaN()
		}
		return math.Pow(1-z, d) * s
	}
	s, ok := hypSeries(a, b, c, z)
	if !ok {
		return math.NaN()
	}
	return s
}

// hypSeries sums the power series of 2F1(a, b; c; z), 0 <= z < 1, and
// reports whether it converged within hypMaxTerms terms.
//
// Stopping rule: the term ratio is rho_n = z(a+n)(b+n)/((c+n)(n+1)), and
// rho_n/z - 1 = (kn + m)/((c+n)(n+1)) with k = a+b-c-1, m = ab-c. Once
// n > -a, -b, -c this is positive only while decreasing if k <= 0, and for
// k > 0 it is decreasing from n >= |a|+|b|+|c| on. From there every later
// ratio is at most rho = max(rho_n, z), and when rho < 1 the tail after
// term t_n is at most |t_n| rho/(1-rho).
func hypSeries(a, b, c, z float64) (float64, bool) {
	sum, _, ok := hypSeriesAbs(a, b, c, tailRuleStart(a, b, c), z)
	return sum, ok
}

// hypSeriesAbs is hypSeries with nmin = tailRuleStart(a, b, c) given; it
// also returns the sum of the absolute values of the terms, which bounds
// the rounding error of the sum.
func hypSeriesAbs(a, b, c, nmin, z float64) (sum, abs float64, ok bool) {
	term := 1.0
	sum, abs = 1, 1
	for n := 0; n < hypMaxTerms; n++ {
		fn := float64(n)
		ratio := (a + fn) * (b + fn) / ((c + fn) * (fn + 1)) * z
		term *= ratio
		sum += term
		abs += math.Abs(term)
		if term == 0 {
			return sum, abs, true
		}
		if fn < nmin || ratio >= 1 {
			continue
		}
		rho := max(ratio, z)
		if math.Abs(term)*rho <= hypTol*(1-rho)*math.Abs(sum) {
			return sum, abs, true
		}
	}
	return sum, abs, false
}

// tailRuleStart returns the index from which the tail bound of hypSeries
// holds for the series with term ratio z(a+n)(b+n)/((c+n)(n+1)).
func tailRuleStart(a, b, c float64) float64 {
	n := max(0, -a, -b, -c)
	if a+b-c-1 > 0 {
		n = max(n, math.Abs(a)+math.Abs(b)+math.Abs(c))
	}
	return n
}

// hypConnect evaluates 2F1(a, b; c; z) for z near 1 and d = c-a-b not an
// integer by A&S 15.3.6:
//
//	2F1(a,b;c;z) = G(c)G(d)/(G(c-a)G(c-b)) 2F1(a, b; 1-d; 1-z)
//	             + (1-z)^d G(c)G(-d)/(G(a)G(b)) 2F1(c-a, c-b; 1+d; 1-z)
//
// with G the gamma function. A factor 1/G at a pole is zero.
func hypConnect(a, b, c, d, z float64) float64 {
	w := 1 - z
	var sum float64
	if f1 := gammaRatio(c, d, c-a, c-b); f1 != 0 {
		s, ok := hypSeries(a, b, 1-d, w)
		if !ok {
			return math.NaN()
		}
		sum += f1 * s
	}
	if f2 := gammaRatio(c, -d, a, b); f2 != 0 {
		s, ok := hypSeries(c-a, c-b, 1+d, w)
		if !ok {
			return math.NaN()
		}
		sum += f2 * math.Pow(w, d) * s
	}
	return sum
}

// gammaRatio returns G(p1)G(p2)/(G(q1)G(q2)) computed through log-gamma,
// for p1, p2 not poles; it is 0 when q1 or q2 is a pole.
func gammaRatio(p1, p2, q1, q2 float64) float64 {
	if isNonPosInt(q1) || isNonPosInt(q2) {
		return 0
	}
	l1, s1 := math.Lgamma(p1)
	l2, s2 := math.Lgamma(p2)
	l3, s3 := math.Lgamma(q1)
	l4, s4 := math.Lgamma(q2)
	return float64(s1*s2*s3*s4) * math.Exp(l1+l2-l3-l4)
}

// isNonPosInt reports whether x is 0, -1, -2, ...
func isNonPosInt(x float64) bool {
	return x <= 0 && x == math.Trunc(x)
}
