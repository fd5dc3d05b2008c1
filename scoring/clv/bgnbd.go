package clv

import "math"

// valid reports whether all four parameters are positive and finite.
func (m BGNBD) valid() bool {
	return positive(m.R) && positive(m.Alpha) && positive(m.A) && positive(m.B)
}

// positive reports whether v is positive and finite.
func positive(v float64) bool {
	return v > 0 && !math.IsInf(v, 1)
}

// validHistory reports whether (x, tx, T) is a possible summary: x = 0 or
// x >= 1 (purchases are counted), 0 <= tx <= T, all finite.
func validHistory(x, tx, T float64) bool {
	return (x == 0 || x >= 1) && !math.IsInf(x, 1) &&
		tx >= 0 && tx <= T && !math.IsInf(T, 1)
}

// LogLikelihood returns the log-likelihood of one customer's summary under
// the model, equation (6) of Fader, Hardie & Lee (2005) (section 7 of
// the paper spells out the A1..A4 split):
//
//	A1 = lnG(r+x) - lnG(r) + r ln(alpha)
//	A2 = lnG(a+b) + lnG(b+x) - lnG(b) - lnG(a+b+x)
//	A3 = -(r+x) ln(alpha+T)
//	A4 = ln(a) - ln(b+x-1) - (r+x) ln(alpha+tx)      (x > 0)
//	LL = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))
//
// with the last logarithm computed as a log-sum-exp. s.Mean is not used.
// It returns NaN for invalid parameters or an impossible summary (see
// Summary; x must be 0 or at least 1).
func (m BGNBD) LogLikelihood(s Summary) float64 {
	if !m.valid() || !validHistory(s.X, s.TX, s.T) {
		return math.NaN()
	}
	r, alpha, a, b, x := m.R, m.Alpha, m.A, m.B, s.X
	a1 := lgamma(r+x) - lgamma(r) + r*math.Log(alpha)
	a2 := lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x)
	a3 := -(r + x) * math.Log(alpha+s.T)
	if x == 0 {
		return a1 + a2 + a3
	}
	a4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(alpha+s.TX)
	return a1 + a2 + logAddExp(a3, a4)
}

// TotalLogLikelihood returns the sum of LogLikelihood over data. Identical
// summaries are evaluated once and weighted by their count, and the
// terms that depend only on x are evaluated once per distinct x, so a
// population measured in whole days costs a fraction of len(data)
// evaluations.
func (m BGNBD) TotalLogLikelihood(data []Summary) float64 {
	if !m.valid() {
		return math.NaN()
	}
	d, err := newBGData(data)
	if err != nil {
		return math.NaN()
	}
	return d.logLik(m, nil)
}

// PAlive returns the probability that a customer with x repeat purchases,
// the last at tx, is still active at age T (Fader, Hardie & Lee 2008,
// "Computing P(alive) Using the BG/NBD Model", brucehardie.com/notes/021):
//
//	P(alive | x, tx, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+tx))^(r+x))
//
// evaluated as a logistic function of the log of the second summand so it
// neither overflows nor underflows. A customer with no repeat purchase is
// alive with probability 1: the model lets customers drop out only right
// after a repeat purchase. It returns NaN for invalid parameters or an
// impossible history.
func (m BGNBD) PAlive(x, tx, T float64) float64 {
	if !m.valid() || !validHistory(x, tx, T) {
		return math.NaN()
	}
	return m.pAlive(x, tx, T)
}

func (m BGNBD) pAlive(x, tx, T float64) float64 {
	if x == 0 {
		return 1
	}
	// ln(a/(b+x-1)) + (r+x) ln((alpha+T)/(alpha+tx))
	l := math.Log(m.A/(m.B+x-1)) + (m.R+x)*math.Log1p((T-tx)/(m.Alpha+tx))
	if l > 0 {
		e := math.Exp(-l)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(l))
}

// ExpectedPurchases returns the expected number of repeat purchases in
// (0, t] of a customer drawn at random from the population at the time of
// the first purchase, equation (9) of Fader, Hardie & Lee (2005):
//
//	E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
//
// It is ConditionalExpectedPurchases(t, 0, 0, 0), and is evaluated the same
// way (including at a = 1, where the formula is 0/0). NaN for t < 0 or
// invalid parameters.
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	return m.ConditionalExpectedPurchases(t, 0, 0, 0)
}

// ConditionalExpectedPurchases returns the expected number of purchases in
// (T, T+t] of a customer with x repeat purchases, the last at tx, observed
// to age T, equation (10) of Fader, Hardie & Lee (2005):
//
//	E[Y(t) | x, tx, T] = (a+b+x-1)/(a-1)
//	    [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
//	    / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+tx))^(r+x)),
//	z = t/(alpha+T+t).
//
// The denominator is 1/PAlive. The bracket is evaluated after Euler's
// transformation of the 2F1 (see the package documentation, "Numerical
// methods"), which makes the series converge fast and removes the 0/0 at
// a = 1 analytically. NaN for t < 0, invalid parameters or an impossible
// history, or when t/(alpha+T+t) is so close to 1 that the series does not
// converge (t more than about 10^4 (alpha+T)).
func (m BGNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if !m.valid() || !validHistory(x, tx, T) || !(t >= 0) || math.IsInf(t, 1) {
		return math.NaN()
	}
	k := newAliveKernel(m, x, T)
	return m.pAlive(x, tx, T) * k.at(t)
}

// aliveKernel evaluates E[Y(t) | alive at T, x], the expected purchases in
// (T, T+t] of a customer known to be active at T, for one customer and
// many t. It does not allocate.
//
// With z = t/(alpha+T+t), Euler's transformation
// 2F1(r+x, b+x; C; z) = (1-z)^(a-1-r-x) 2F1(A', a-1; C; z), where
// C = a+b+x-1 and A' = a+b-1-r, turns the bracket of equation (10) into
// 1 - (1-z)^(a-1) 2F1(A', a-1; C; z). Splitting off the factor a-1 of
// every term but the first of that series,
// 2F1(A', a-1; C; z) = 1 + (a-1) G(C; z) with
//
//	G(c; z) = sum_{n>=1} (A')_n (a)_(n-1) / ((c)_n n!) z^n,
//
// gives (the z branch)
//
//	E[Y(t) | alive] = C (1 - (1-z)^(a-1))/(a-1) - (1-z)^(a-1) C G(C; z),
//
// whose first term is -C expm1((a-1) ln(1-z))/(a-1), or -C ln(1-z) at
// a = 1, and where C G(C; z) is summed as one series, finite at C = 0.
// The terms of G decay like n^(a-r-x-2) z^n, those of the untransformed
// series like n^(r+x-a) z^n.
//
// For z > 2/3 the connection formula A&S 15.3.6 rewrites the bracket in
// powers of w = 1-z (the w branch), whose two series then need fewer
// terms together than the z series (at z = 0.92, for a new customer with
// the CDNOW parameters, about 40 instead of 400). With e = a-1 and d = r+x+1-a:
//
//	E[Y(t) | alive] = C [ (1 - w^e K1)/e - w^e K1 G(1-d; w) - w^(r+x) K2 2F1(r+x, b+x; 1+d; w) ],
//	K1 = G(C)G(d)/(G(r+x)G(b+x)),   K2 = G(C)G(-d)/(G(A')G(a)),
//
// with G the gamma function. Both series converge at least like 3^-n.
// The w branch is used only where it is well conditioned: d at least
// 0.05 from an integer (the poles of G(d), G(-d) and of the series),
// d <= 12 (beyond, K1 and K2 are large and cancel; there the z series
// converges fast anyway because C is large) and |a-1| >= 1e-3 (ln K1 is
// O(a-1) and is divided by it), and only where a bound on its rounding
// error, computed with it, is below 1e-13 of the result; elsewhere the z
// series is summed.
type aliveKernel struct {
	am1  float64 // e = a - 1
	ap   float64 // A' = a+b-1-r
	c    float64 // C = a+b+x-1
	beta float64 // alpha + T
	nmin float64 // where the tail bound of G(C; z) holds

	a        float64
	wBranch  bool    // the w branch may be used
	wReady   bool    // its constants below are computed
	s        float64 // r + x
	bx       float64 // b + x
	d        float64 // r+x+1-a
	lnK1, k2 float64
	lgAbs    float64 // sum of |ln G| in K1 and K2, for the error bound
	nmin1    float64 // tail bound start for G(1-d; w)
	nmin2    float64 // for 2F1(r+x, b+x; 1+d; w)
}

func newAliveKernel(m BGNBD, x, T float64) aliveKernel {
	k := aliveKernel{
		a:    m.A,
		am1:  m.A - 1,
		ap:   m.A + m.B - 1 - m.R,
		c:    m.A + m.B + x - 1,
		beta: m.Alpha + T,
		s:    m.R + x,
		bx:   m.B + x,
		d:    m.R + x + 1 - m.A,
	}
	k.nmin = tailRuleStart(k.ap, k.am1, k.c)
	k.wBranch = math.Abs(k.d-math.Round(k.d)) >= hypMinIntDist && k.d <= 12 && math.Abs(k.am1) >= 1e-3
	return k
}

// initW computes the constants of the w branch on its first use, so that
// evaluations with z <= 2/3 only do not pay for seven log-gamma functions.
func (k *aliveKernel) initW() {
	k.wReady = true
	lc, sc := math.Lgamma(k.c)
	ld, sd := math.Lgamma(k.d)
	lmd, smd := math.Lgamma(-k.d)
	lap, sap := math.Lgamma(k.ap)
	la, _ := math.Lgamma(k.a)
	ls, lbx := lgamma(k.s), lgamma(k.bx)
	if sc*sd < 0 || k.c == 0 {
		// K1 <= 0 cannot be put in the exponent. Only for x = 0 and
		// a > 1+r or a+b < 1.
		k.wBranch = false
		return
	}
	k.lnK1 = lc + ld - ls - lbx
	if !isNonPosInt(k.ap) { // else 1/G(A') = 0: K2 = 0
		k.k2 = float64(sc*smd*sap) * math.Exp(lc+lmd-lap-la)
	}
	k.lgAbs = math.Abs(lc) + math.Abs(ld) + math.Abs(ls) + math.Abs(lbx) + math.Abs(lmd) + math.Abs(lap) + math.Abs(la)
	k.nmin1 = tailRuleStart(k.ap, k.am1, 1-k.d)
	k.nmin2 = tailRuleStart(k.s, k.bx, 1+k.d)
}

// at returns E[Y(t) | alive at T, x] for t >= 0, NaN if a series does not
// converge within hypMaxTerms terms.
func (k *aliveKernel) at(t float64) float64 {
	if t == 0 {
		return 0
	}
	u := t / k.beta
	l := -math.Log1p(u) // ln(1-z) = ln(w)
	if k.wBranch && u > 2 {
		if !k.wReady {
			k.initW()
		}
		if k.wBranch {
			if v, ok := k.atW(u, l); ok {
				return v
			}
		}
	}
	var first float64
	if k.am1 == 0 {
		first = -l
	} else {
		first = -math.Expm1(k.am1*l) / k.am1
	}
	cg, ok := gSeries(k.ap, k.am1, k.c, k.nmin, u/(1+u))
	if !ok {
		return math.NaN()
	}
	return k.c*first - math.Exp(k.am1*l)*cg
}

// atW is the w branch of at, with u = t/(alpha+T) and l = ln(w). It
// reports false when a series does not converge or when the bound on the
// rounding error, from the sizes of the terms that cancel and of the
// log-gamma values in K1 and K2, exceeds wMaxErr of the result; the z
// branch is used then.
func (k *aliveKernel) atW(u, l float64) (float64, bool) {
	w := 1 / (1 + u)
	g, gAbs, ok1 := gSeriesAbs(k.ap, k.am1, 1-k.d, k.nmin1, w)
	f, fAbs, ok2 := hypSeriesAbs(k.s, k.bx, 1+k.d, k.nmin2, w)
	if !ok1 || !ok2 {
		return 0, false
	}
	e := k.am1*l + k.lnK1
	p1 := -math.Expm1(e) / k.am1
	p2 := math.Exp(e) / (1 - k.d)
	p3 := math.Exp(k.s*l) * k.k2
	v := k.c * (p1 - p2*g - p3*f)
	// Rounding: ln K1 and K2 carry an absolute error of about eps times
	// the log-gamma values (k.lgAbs), which (1 - w^e K1)/e divides by e.
	errBound := dblEps * math.Abs(k.c) * (math.Exp(e)*(k.lgAbs+math.Abs(k.am1*l))/math.Abs(k.am1) +
		math.Abs(p1) + math.Abs(p2)*gAbs + math.Abs(p3)*fAbs*(1+k.lgAbs))
	if !(errBound <= wMaxErr*math.Abs(v)) {
		return 0, false
	}
	return v, true
}

const (
	dblEps = 0x1p-52
	// wMaxErr is the largest relative rounding error bound accepted from
	// the w branch of aliveKernel.
	wMaxErr = 1e-13
)

// gSeriesAbs is gSeries that also returns the sum of the absolute values
// of the terms.
func gSeriesAbs(a, b, c, nmin, z float64) (sum, abs float64, ok bool) {
	term := a * z
	sum, abs = term, math.Abs(term)
	for n := 1; n < hypMaxTerms; n++ {
		if term == 0 {
			return sum, abs, true
		}
		fn := float64(n)
		ratio := (a + fn) * (b + fn) / ((c + fn) * (fn + 1)) * z
		term *= ratio
		sum += term
		abs += math.Abs(term)
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

// gSeries returns c G(c; z) = sum_{n>=1} (a)_n (b+1)_(n-1) / ((c+1)_(n-1) n!) z^n,
// where G(c; z) = (2F1(a, b; c; z) - 1)/b, finite also at c = 0. It uses
// the stopping rule of hypSeries (the term ratios are those of
// 2F1(a, b; c; z)); nmin is tailRuleStart(a, b, c).
func gSeries(a, b, c, nmin, z float64) (float64, bool) {
	sum, _, ok := gSeriesAbs(a, b, c, nmin, z)
	return sum, ok
}

// lgamma returns ln|G(x)|.
func lgamma(x float64) float64 {
	l, _ := math.Lgamma(x)
	return l
}

// logAddExp returns ln(exp(u) + exp(v)) without overflow.
func logAddExp(u, v float64) float64 {
	if u < v {
		u, v = v, u
	}
	if math.IsInf(u, -1) {
		return u
	}
	return u + math.Log1p(math.Exp(v-u))
}
