package clv

import "math"

// Independent numerical integration for the tests: tanh-sinh (double
// exponential) quadrature, which converges fast for analytic integrands
// even with integrable singularities at the end points.

// tanhSinh01 integrates f over (0, 1). f receives the node p and its
// complement q = 1-p, both computed without cancellation so integrands
// like p^(a-1) (1-p)^(b-1) stay accurate at both ends. It halves the step
// until two successive estimates agree to 1e-13 relative.
func tanhSinh01(f func(p, q float64) float64) float64 {
	const tmax = 6.5 // nodes within exp(-pi sinh(6.5)) ~ 1e-454 of the ends: below float64
	node := func(t float64) float64 {
		u := math.Pi / 2 * math.Sinh(t)
		// p = 1/(1+exp(-2u)), q = 1/(1+exp(2u)), dp/dt = pi cosh(t) p q
		var p, q float64
		if u >= 0 {
			e := math.Exp(-2 * u)
			p, q = 1/(1+e), e/(1+e)
		} else {
			e := math.Exp(2 * u)
			p, q = e/(1+e), 1/(1+e)
		}
		if p == 0 || q == 0 {
			return 0
		}
		return f(p, q) * math.Pi * math.Cosh(t) * p * q
	}
	h := 0.5
	sum := node(0)
	for k := 1; float64(k)*h <= tmax; k++ {
		sum += node(float64(k)*h) + node(-float64(k)*h)
	}
	prev := sum * h
	for level := 0; level < 8; level++ {
		h /= 2
		for k := 1; float64(k)*h <= tmax; k += 2 {
			sum += node(float64(k)*h) + node(-float64(k)*h)
		}
		est := sum * h
		if math.Abs(est-prev) <= 1e-13*math.Abs(est) {
			return est
		}
		prev = est
	}
	return prev
}

// integrate0Inf integrates f over (0, inf) by the substitution
// x = scale p/(1-p), which puts the bulk of a function decaying on the
// scale `scale` in the middle of (0, 1).
func integrate0Inf(f func(x float64) float64, scale float64) float64 {
	return tanhSinh01(func(p, q float64) float64 {
		x := scale * p / q
		if x == 0 || math.IsInf(x, 1) {
			return 0 // the node underflows or overflows: no mass there
		}
		v := f(x)
		if v == 0 {
			return 0 // also where scale/q^2 overflows
		}
		return v * scale / (q * q)
	})
}

// logGammaDensity is ln of the Gamma(shape, rate) density at x > 0.
func logGammaDensity(x, shape, rate float64) float64 {
	if math.IsInf(rate*x, 1) {
		return math.Inf(-1)
	}
	lg, _ := math.Lgamma(shape)
	return shape*math.Log(rate) + (shape-1)*math.Log(x) - rate*x - lg
}

// logBetaDensity is ln of the Beta(a, b) density at p, with q = 1-p.
func logBetaDensity(p, q, a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return (a-1)*math.Log(p) + (b-1)*math.Log(q) - la - lb + lab
}

// bgIntegral integrates over the BG/NBD mixing distributions, lambda ~
// Gamma(r, alpha) and p ~ Beta(a, b), an individual-level quantity
// f(lambda, p, q = 1-p) given in logs (the integral over lambda is the
// inner one; scale is where the lambda integrand has its bulk).
func bgIntegral(m BGNBD, scale float64, logF func(lam, p, q float64) float64) float64 {
	return tanhSinh01(func(p, q float64) float64 {
		inner := integrate0Inf(func(lam float64) float64 {
			return math.Exp(logGammaDensity(lam, m.R, m.Alpha) + logF(lam, p, q))
		}, scale)
		if inner == 0 {
			return 0
		}
		// Multiplied separately: near p = 0 or 1 the Beta density alone
		// can be 1e200 and the product of the logs would overflow.
		return inner * math.Exp(logBetaDensity(p, q, m.A, m.B))
	})
}

// bgLikelihoodIntegrals returns the two parts of the likelihood of a
// customer with x repeat purchases, the last at tx, observed to T, by
// integrating the individual-level likelihood (Fader, Hardie & Lee 2005,
// section 3) numerically over the mixing distributions:
//
//	alive = E[(1-p)^x lambda^x e^(-lambda T)]                  (still active at T)
//	dead  = E[[x > 0] p (1-p)^(x-1) lambda^x e^(-lambda tx)]   (dropped out at tx)
//
// so that L = alive+dead and P(alive) = alive/L.
func bgLikelihoodIntegrals(m BGNBD, x, tx, T float64) (alive, dead float64) {
	scale := (m.R + x) / (m.Alpha + T)
	alive = bgIntegral(m, scale, func(lam, p, q float64) float64 {
		return x*math.Log(q) + x*math.Log(lam) - lam*T
	})
	if x > 0 {
		dead = bgIntegral(m, scale, func(lam, p, q float64) float64 {
			return math.Log(p) + (x-1)*math.Log(q) + x*math.Log(lam) - lam*tx
		})
	}
	return alive, dead
}

// bgFutureIntegral returns E[(1-p)^x lambda^x e^(-lambda T) (1 -
// e^(-lambda p t))/p]: the individual likelihood of being active at T
// times the expected purchases in (T, T+t] of an active customer,
// (1 - e^(-lambda p t))/p (the paper's equation 7). Divided by the
// likelihood it is E[Y(t) | x, tx, T].
func bgFutureIntegral(m BGNBD, x, T, t float64) float64 {
	return bgIntegral(m, (m.R+x)/(m.Alpha+T), func(lam, p, q float64) float64 {
		return x*math.Log(q) + x*math.Log(lam) - lam*T + math.Log(-math.Expm1(-lam*p*t)) - math.Log(p)
	})
}
