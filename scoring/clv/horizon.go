package clv

import "math"

// This file evaluates phi(t) = E[Y(t) | alive at T, x] at all the points a
// CLV sum needs (t = 1, 2, ..., H, and the horizon of the expected
// purchases) for one customer. aliveKernel sums a series of tens to
// hundreds of terms, with two or three transcendental functions, for every
// t; here the series are set up once per customer (or per stretch of t)
// and each t costs a polynomial evaluation. See the package documentation,
// "Horizon sums".
//
// With u = t/(alpha+T), Pfaff's transformation of equation (10) gives
//
//	phi = (a+b+x-1)/(a-1) [1 - 2F1(r+x, a-1; a+b+x-1; -u)],
//
// which, with A = r+x, B = a-1, C = a+b+x-1, solves
//
//	u(1+u) phi'' + (C + (A+B+1) u) phi' + A B phi = A C,   phi(0) = 0, phi'(0) = A.
//
// Two ways to evaluate phi at many u are used, whichever is estimated to
// be cheaper:
//
//   - taylorCurve: Taylor polynomials of phi around a chain of centers,
//     their coefficients from the three-term recurrence the equation gives
//     and the value and derivative at each center from the previous
//     polynomial. Only multiplications and additions per point.
//   - zCurve: aliveKernel's z series (Euler's transformation, in
//     z = u/(1+u)) with its coefficients computed once; per point a log1p
//     and an expm1. It is short when C is large, where the Taylor chain
//     needs many centers.

const (
	// curveMaxTerms caps the terms of one polynomial of either curve.
	curveMaxTerms = 64

	// curveTol is the relative size of the neglected terms.
	curveTol = 1e-17

	// curveMaxRho is the largest step from a Taylor center u_c, as a
	// fraction of u_c: the distance to the singular point u = 0 of the
	// equation, where a second solution like u^(1-C) lives, whose
	// coefficients are what rounding errors in the recurrence excite.
	// Since u_c < 1+u_c, the radius of convergence, the coefficients
	// decay at least like curveMaxRho^n.
	curveMaxRho = 0.3

	// curveKappa bounds the growth of the rounding errors of the
	// recurrence, about (1 - step/u_c)^-(C-1), by exp(curveKappa).
	curveKappa = 2.0

	// zPointCost is the cost of the log1p and expm1 of zCurve per point in
	// units of one term of a polynomial evaluation.
	zPointCost = 50

	// curveRecurrenceCost is the cost of one coefficient of the
	// recurrence in units of one term of a polynomial evaluation.
	curveRecurrenceCost = 6
)

// curveSteps are the steps (fractions of the center) the Taylor chain
// chooses from, with their estimated numbers of terms.
// The cost of a step per unit of ln(u) is
// (curveRecurrenceCost + points in the step) * terms / ln(1+rho).
var curveSteps = func() (s [8]struct{ rho, perLog float64 }) {
	for i, rho := range []float64{0.3, 0.2, 0.12, 0.07, 0.04, 0.025, 0.015, 0.01} {
		terms := -math.Log(curveTol)/math.Log((1+rho)/rho) + 2
		s[i].rho = rho
		s[i].perLog = terms / math.Log1p(rho)
	}
	return s
}()

// recip[n] = 1/n, ratioN[n] = n/(n+2) and recip2[n] = 1/((n+1)(n+2)),
// for the recurrences.
var recip, ratioN, recip2 = func() (r, rn, r2 [curveMaxTerms + 2]float64) {
	for n := range r {
		if n > 0 {
			r[n] = 1 / float64(n)
		}
		rn[n] = float64(n) / float64(n+2)
		r2[n] = 1 / float64((n+1)*(n+2))
	}
	return r, rn, r2
}()

// curveParams are the constants of the equation for one customer.
type curveParams struct {
	a, b, c float64 // A = r+x, B = a-1, C = a+b+x-1
	beta    float64 // alpha + T
}

// taylorCurve evaluates phi at non-decreasing u. Center 0 is the series of
// phi at u = 0 and covers [0, h]; every later center is the end of the
// previous interval and covers [u_c, u_c + rho u_c]. Coefficients are
// stored scaled, d_n = c_n h^n, h the length of the interval, and
// evaluated at s = (u - u_c)/h in [0, 1].
type taylorCurve struct {
	p      curveParams
	rhoMax float64 // largest step as a fraction of the center
	uc, h  float64 // center, length of its interval
	n      int     // number of coefficients
	d      [curveMaxTerms]float64
	ab     [curveMaxTerms]float64 // (n+A)(n+B)/((n+1)(n+2)), of the recurrence
}

// init sets up center 0 for points spaced du apart; false if its series
// does not converge within curveMaxTerms terms.
func (k *taylorCurve) init(p curveParams, du float64) bool {
	k.p = p
	for n := range k.ab {
		fn := float64(n)
		k.ab[n] = (fn + p.a) * (fn + p.b) * recip2[n]
	}
	// The solutions vary on the scale u/C when C is large, and so on.
	big := max(p.c-1, p.a, math.Abs(p.b), 1)
	k.rhoMax = min(curveMaxRho, -math.Expm1(-curveKappa/big))
	// About 16 points in center 0: its series is longer than the later
	// polynomials for the same reach.
	k.uc, k.h = 0, min(k.rhoMax, max(16*du, 0.02))
	// phi = sum_{n>=1} phi_n u^n, phi_1 = A,
	// phi_{n+1} = -phi_n (A+n)(B+n)/((C+n)(n+1)); stopped as hypSeries.
	k.d[0] = 0
	d := p.a * k.h
	k.d[1] = d
	nmin := tailRuleStart(p.a, p.b, p.c)
	sum := d
	for n := 1; n+1 < curveMaxTerms; n++ {
		fn := float64(n)
		ratio := -(p.a + fn) * (p.b + fn) / (p.c + fn) * recip[n+1] * k.h
		d *= ratio
		k.d[n+1] = d
		sum += d
		if d == 0 {
			k.n = n + 2
			return true
		}
		r := math.Abs(ratio)
		if fn < nmin || r >= 1 {
			continue
		}
		if math.Abs(d)*r <= curveTol*(1-r)*math.Abs(sum) {
			k.n = n + 2
			return true
		}
	}
	return false
}

// fill stores phi at u0, u0+du, ... in out; false if a recurrence did not
// converge (out is then partly filled).
func (k *taylorCurve) fill(out []float64, u0, du float64) bool {
	for i := 0; i < len(out); {
		u := u0 + float64(i)*du
		for u > k.uc+k.h {
			if !k.next(du) {
				return false
			}
		}
		// Points i..j-1 are in [u_c, u_c+h].
		j := len(out)
		if du > 0 {
			j = min(j, i+1+int((k.uc+k.h-u)/du))
		}
		k.eval(out[i:j], u, du)
		i = j
	}
	return true
}

// eval stores the current polynomial at u0, u0+du, ... in out, up to four
// points at a time so that the evaluations overlap.
func (k *taylorCurve) eval(out []float64, u0, du float64) {
	d := k.d[:k.n]
	inv := 1 / k.h
	s0 := (u0 - k.uc) * inv
	ds := du * inv
	i := 0
	for ; i+4 <= len(out); i += 4 {
		fi := float64(i)
		a, b, c, e := s0+fi*ds, s0+(fi+1)*ds, s0+(fi+2)*ds, s0+(fi+3)*ds
		var va, vb, vc, ve float64
		for n := len(d) - 1; n >= 0; n-- {
			dn := d[n]
			va = va*a + dn
			vb = vb*b + dn
			vc = vc*c + dn
			ve = ve*e + dn
		}
		out[i], out[i+1], out[i+2], out[i+3] = va, vb, vc, ve
	}
	if i+2 <= len(out) {
		fi := float64(i)
		a, b := s0+fi*ds, s0+(fi+1)*ds
		var va, vb float64
		for n := len(d) - 1; n >= 0; n-- {
			dn := d[n]
			va = va*a + dn
			vb = vb*b + dn
		}
		out[i], out[i+1] = va, vb
		i += 2
	}
	if i < len(out) {
		out[i] = horner(d, s0+float64(i)*ds)
	}
}

// next moves to the center at the end of the current interval, with the
// step that minimizes the estimated cost for points spaced du apart.
func (k *taylorCurve) next(du float64) bool {
	// Value and derivative at s = 1, in two partial sums each.
	var v0, v1, dv0, dv1 float64
	i := k.n - 1
	for ; i >= 2; i -= 2 {
		v0 += k.d[i]
		v1 += k.d[i-1]
		dv0 += float64(i) * k.d[i]
		dv1 += float64(i-1) * k.d[i-1]
	}
	if i == 1 {
		v1 += k.d[1]
		dv1 += k.d[1]
	}
	v := k.d[0] + (v0 + v1)
	dv := (dv0 + dv1) / k.h
	uc := k.uc + k.h
	k.uc = uc
	best := math.Inf(1)
	rho := k.rhoMax
	density := 0.0 // points per unit of rho
	if du > 0 {
		density = uc / du
	}
	if density*k.rhoMax > 2 { // else the largest step
		for _, st := range curveSteps {
			if st.rho > k.rhoMax {
				continue
			}
			if c := (curveRecurrenceCost + st.rho*density) * st.perLog; c < best {
				best, rho = c, st.rho
			}
		}
	}
	h := rho * uc
	k.h = h
	p := k.p
	// c_{n+2} = ([n=0] A C - (n+1)(P1 n + Q0) c_{n+1} - (n+A)(n+B) c_n) / (P0 (n+1)(n+2))
	// with P0 = u_c(1+u_c), P1 = 1+2u_c, Q0 = C + (A+B+1)u_c; scaled by h^n.
	p0 := uc * (1 + uc)
	p1 := 1 + 2*uc
	q0 := p.c + (p.a+p.b+1)*uc
	hp := h / p0
	h2p := h * hp
	d0, d1 := v, dv*h
	k.d[0], k.d[1] = d0, d1
	d2 := (p.a*p.c*h2p - q0*hp*d1 - p.a*p.b*h2p*d0) / 2
	k.d[2] = d2
	lim := curveTol * math.Abs(d0)
	dm, dn := d1, d2
	p1h, q0h, abh := -p1*hp, -q0*hp, -h2p
	ab, out := k.ab[:curveMaxTerms-2], k.d[3:]
	for n := 1; n < len(ab); n++ {
		x := p1h*ratioN[n] + q0h*recip[n+2]
		dn2 := math.FMA(x, dn, abh*ab[n]*dm)
		out[n-1] = dn2
		if math.Abs(dn)+math.Abs(dn2) <= lim && n >= 2 {
			k.n = n + 3
			return true
		}
		dm, dn = dn, dn2
	}
	return false
}

// cost estimates the cost of taylorCurve for nPts points spaced du apart
// up to uMax, in terms of a polynomial evaluation.
func (k *taylorCurve) cost(uMax, du float64, nPts int) float64 {
	rho := k.rhoMax
	terms := -math.Log(curveTol)/math.Log((1+rho)/rho) + 2
	centers := 1.0
	if uMax > k.h {
		centers += math.Ceil(math.Log(uMax/k.h) / math.Log1p(rho))
	}
	return centers*terms*curveRecurrenceCost + float64(nPts)*min(terms, float64(k.n))
}

// horner returns sum_i d[i] s^i.
func horner(d []float64, s float64) float64 {
	v := 0.0
	for i := len(d) - 1; i >= 0; i-- {
		v = v*s + d[i]
	}
	return v
}

// zCurve evaluates phi as aliveKernel's z branch,
//
//	phi = C (1 - (1-z)^(a-1))/(a-1) - (1-z)^(a-1) C G(C; z),   z = u/(1+u),
//
// with the coefficients of C G(C; z) computed once for the largest z.
type zCurve struct {
	am1, c float64
	n      int
	t      [curveMaxTerms]float64 // t[i] is the coefficient of z^(i+1)
}

// init computes the coefficients for z up to zMax; false if the series
// needs more than maxTerms terms there, or if its terms, or the two parts
// of phi, cancel to more than zMaxCancel times the result.
func (k *zCurve) init(m BGNBD, x, zMax float64, maxTerms int) bool {
	a := m.A + m.B - 1 - m.R // A'
	b := m.A - 1
	c := m.A + m.B + x - 1
	k.am1, k.c = b, c
	nmin := tailRuleStart(a, b, c)
	term := a
	k.t[0] = term
	zn := zMax
	sum := term * zn
	abs := math.Abs(sum)
	for n := 1; n < maxTerms; n++ {
		fn := float64(n)
		r := (a + fn) * (b + fn) / (c + fn) * recip[n+1]
		term *= r
		k.t[n] = term
		zn *= zMax
		sum += term * zn
		abs += math.Abs(term * zn)
		if term == 0 {
			k.n = n + 1
			return k.wellConditioned(zMax, sum, abs)
		}
		ratio := r * zMax
		if fn < nmin || ratio >= 1 {
			continue
		}
		rho := max(ratio, zMax)
		if math.Abs(term*zn)*rho <= curveTol*(1-rho)*math.Abs(sum) {
			k.n = n + 1
			return k.wellConditioned(zMax, sum, abs)
		}
	}
	return false
}

// zMaxCancel is the largest ratio of the sizes of the parts of zCurve's
// phi to phi accepted: 1e4 leaves about 1e-12 of relative accuracy.
const zMaxCancel = 1e4

// wellConditioned reports whether phi at zMax, with the series summing to
// cg and to abs in absolute values, is not the difference of much larger
// numbers. The cancellation is largest at the largest z.
func (k *zCurve) wellConditioned(zMax, cg, abs float64) bool {
	l := math.Log1p(-zMax)
	em := math.Expm1(k.am1 * l)
	first := -l
	if k.am1 != 0 {
		first = -em / k.am1
	}
	phi := k.c*first - (1+em)*cg
	return math.Abs(k.c*first)+(1+em)*abs <= zMaxCancel*math.Abs(phi)
}

// fill stores phi at u0, u0+du, ... in out.
func (k *zCurve) fill(out []float64, u0, du float64) {
	t := k.t[:k.n]
	for i := range out {
		u := u0 + float64(i)*du
		if u == 0 {
			out[i] = 0
			continue
		}
		l := -math.Log1p(u) // ln(1-z)
		z := u / (1 + u)
		cg := horner(t, z) * z
		em := math.Expm1(k.am1 * l)
		first := -l
		if k.am1 != 0 {
			first = -em / k.am1
		}
		out[i] = k.c*first - (1+em)*cg
	}
}

// cost is the estimate of taylorCurve.cost for zCurve; a log1p and an
// expm1 cost about 40 terms.
func (k *zCurve) cost(nPts int) float64 {
	return float64(k.n)*curveRecurrenceCost + float64(nPts)*(float64(k.n)+zPointCost)
}

// Kinds of horizonCurve.
const (
	curveKernel = iota
	curveTaylor
	curveZ
)

// horizonCurve is phi by whichever curve is cheaper; aliveKernel (one
// series per point) when neither applies.
type horizonCurve struct {
	kind   int
	taylor taylorCurve
	z      zCurve
	kernel aliveKernel
	beta   float64
}

// init prepares the evaluation of phi at nPts points t in [0, tMax]
// spaced dt apart (roughly), to be asked for in non-decreasing order.
func (h *horizonCurve) init(m BGNBD, x, T, tMax, dt float64, nPts int) {
	p := curveParams{a: m.R + x, b: m.A - 1, c: m.A + m.B + x - 1, beta: m.Alpha + T}
	h.beta = p.beta
	h.kernel = newAliveKernel(m, x, T)
	uMax, du := tMax/p.beta, dt/p.beta
	okT := h.taylor.init(p, du)
	costT := math.Inf(1)
	if okT {
		costT = h.taylor.cost(uMax, du, nPts)
	}
	// The z curve costs about zPointCost plus its terms per point.
	maxZ := min(curveMaxTerms, int(costT/float64(nPts)-zPointCost))
	okZ := maxZ > 0 && h.z.init(m, x, uMax/(1+uMax), maxZ)
	switch {
	case okZ && h.z.cost(nPts) < costT:
		h.kind = curveZ
	case okT:
		h.kind = curveTaylor
	default:
		h.kind = curveKernel
	}
}

// fill stores phi at t0, t0+dt, ... in out. t0 must not be below the last
// point of the previous call.
func (h *horizonCurve) fill(out []float64, t0, dt float64) {
	switch h.kind {
	case curveTaylor:
		if h.taylor.fill(out, t0/h.beta, dt/h.beta) {
			return
		}
		// A recurrence did not converge: the kernel from here on.
		h.kind = curveKernel
	case curveZ:
		h.z.fill(out, t0/h.beta, dt/h.beta)
		return
	}
	for i := range out {
		out[i] = h.kernel.at(t0 + float64(i)*dt)
	}
}

// discountedSum returns sum_{k=1..H} (phi(k) - phi(k-1)) / (1+d)^k; when
// at is not nil it also stores phi(t) there.
func (h *horizonCurve) discountedSum(horizonUnits int, discountPerUnit float64, at *float64, t float64) float64 {
	var buf [64]float64
	f := 1 / (1 + discountPerUnit)
	disc, prev, sum := 1.0, 0.0, 0.0
	for k := 1; k <= horizonUnits; {
		if at != nil && t <= float64(k) {
			h.fill(buf[:1], t, 0)
			*at, at = buf[0], nil
		}
		n := min(len(buf), horizonUnits-k+1)
		if at != nil && t < float64(k+n-1) {
			n = int(t) - k + 1 // points k..floor(t), then t
		}
		h.fill(buf[:n], float64(k), 1)
		for _, cur := range buf[:n] {
			disc *= f
			sum += (cur - prev) * disc
			prev = cur
		}
		k += n
	}
	if at != nil {
		h.fill(buf[:1], t, 0)
		*at = buf[0]
	}
	return sum
}
