package clv

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// bgData is a population prepared for repeated BG/NBD likelihood
// evaluations: identical (x, tx, T) summaries are merged into one weighted
// item, items are grouped by x so the gamma functions are evaluated once
// per distinct x, and tx and T are indices into a table of distinct values
// so the logarithms are evaluated once per distinct value.
type bgData struct {
	vals   []float64 // distinct values of tx and T
	groups []bgGroup // by ascending x
	w      float64   // customers
	maxT   float64

	logs, invs []float64 // scratch: ln(alpha+v), 1/(alpha+v) for v in vals
}

type bgGroup struct {
	x     float64
	w     float64 // customers in the group
	items []bgItem
}

type bgItem struct {
	tx, t int32 // indices into vals
	w     float64
}

func newBGData(data []Summary) (*bgData, error) {
	type key struct{ x, tx, t float64 }
	counts := make(map[key]float64, len(data))
	valIdx := make(map[float64]int32)
	d := &bgData{}
	index := func(v float64) {
		if _, ok := valIdx[v]; !ok {
			valIdx[v] = 0
			d.vals = append(d.vals, v)
		}
	}
	for i, s := range data {
		if !validHistory(s.X, s.TX, s.T) {
			return nil, fmt.Errorf("data[%d] = {X: %g, TX: %g, T: %g}: want X = 0 or X >= 1, 0 <= TX <= T, finite: %w",
				i, s.X, s.TX, s.T, ErrInvalidSummary)
		}
		tx := s.TX
		if s.X == 0 {
			tx = 0 // unused by the likelihood
		}
		counts[key{s.X, tx, s.T}]++
		index(tx)
		index(s.T)
		d.maxT = max(d.maxT, s.T)
	}
	d.w = float64(len(data))
	slices.Sort(d.vals)
	for i, v := range d.vals {
		valIdx[v] = int32(i)
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.t, b.t), cmp.Compare(a.tx, b.tx))
	})
	for _, k := range keys {
		if n := len(d.groups); n == 0 || d.groups[n-1].x != k.x {
			d.groups = append(d.groups, bgGroup{x: k.x})
		}
		g := &d.groups[len(d.groups)-1]
		w := counts[k]
		g.w += w
		g.items = append(g.items, bgItem{tx: valIdx[k.tx], t: valIdx[k.t], w: w})
	}
	d.logs = make([]float64, len(d.vals))
	d.invs = make([]float64, len(d.vals))
	return d, nil
}

// logLik returns the total log-likelihood of the population under m and,
// when grad is not nil (length 4), stores in it the derivatives of the
// total with respect to ln r, ln alpha, ln a, ln b.
func (d *bgData) logLik(m BGNBD, grad []float64) float64 {
	r, alpha, a, b := m.R, m.Alpha, m.A, m.B
	for i, v := range d.vals {
		d.logs[i] = math.Log(alpha + v)
		if grad != nil {
			d.invs[i] = 1 / (alpha + v)
		}
	}
	lnAlpha, lnA := math.Log(alpha), math.Log(a)
	base := -lgamma(r) + r*lnAlpha + lgamma(a+b) - lgamma(b)
	var dr, dalpha, da, db float64
	var psiR, psiAB, psiB float64
	if grad != nil {
		psiR, psiAB, psiB = mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	}
	var ll float64
	for gi := range d.groups {
		g := &d.groups[gi]
		x, s := g.x, r+g.x
		ll += g.w * (base + lgamma(s) + lgamma(b+x) - lgamma(a+b+x))
		var sum, s3log, s4log, s3inv, s4inv, s4 float64
		if x == 0 {
			for _, it := range g.items {
				sum -= it.w * s * d.logs[it.t]
				s3log += it.w * d.logs[it.t]
				s3inv += it.w * d.invs[it.t]
			}
		} else {
			c4 := lnA - math.Log(b+x-1)
			for _, it := range g.items {
				a3 := -s * d.logs[it.t]
				a4 := c4 - s*d.logs[it.tx]
				l := logAddExp(a3, a4)
				sum += it.w * l
				if grad != nil {
					w3, w4 := it.w*math.Exp(a3-l), it.w*math.Exp(a4-l)
					s3log += w3 * d.logs[it.t]
					s4log += w4 * d.logs[it.tx]
					s3inv += w3 * d.invs[it.t]
					s4inv += w4 * d.invs[it.tx]
					s4 += w4
				}
			}
		}
		ll += sum
		if grad != nil {
			psiABX := mathext.Digamma(a + b + x)
			dr += g.w*(mathext.Digamma(s)-psiR+lnAlpha) - s3log - s4log
			dalpha += g.w*r/alpha - s*(s3inv+s4inv)
			da += g.w*(psiAB-psiABX) + s4/a
			db += g.w * (psiAB + mathext.Digamma(b+x) - psiB - psiABX)
			if x > 0 {
				db -= s4 / (b + x - 1)
			}
		}
	}
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3] = dr*r, dalpha*alpha, da*a, db*b
	}
	return ll
}

// ggData is the repeat buyers of a population prepared for Gamma-Gamma
// likelihood evaluations: identical (x, mean) pairs merged, grouped by x.
type ggData struct {
	groups []ggGroup
	w      float64
}

type ggGroup struct {
	x, lnX float64
	w      float64
	items  []ggItem
}

type ggItem struct {
	m, lnM, w float64
}

// newGGData keeps the customers with X >= 1 and Mean > 0 (finite).
func newGGData(data []Summary) *ggData {
	type key struct{ x, m float64 }
	counts := make(map[key]float64)
	d := &ggData{}
	for _, s := range data {
		if s.X >= 1 && s.Mean > 0 && !math.IsInf(s.X, 1) && !math.IsInf(s.Mean, 1) {
			counts[key{s.X, s.Mean}]++
			d.w++
		}
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.m, b.m))
	})
	for _, k := range keys {
		if n := len(d.groups); n == 0 || d.groups[n-1].x != k.x {
			d.groups = append(d.groups, ggGroup{x: k.x, lnX: math.Log(k.x)})
		}
		g := &d.groups[len(d.groups)-1]
		w := counts[k]
		g.w += w
		g.items = append(g.items, ggItem{m: k.m, lnM: math.Log(k.m), w: w})
	}
	return d
}

// logLik returns the total Gamma-Gamma log-likelihood and, when grad is
// not nil (length 3), its derivatives with respect to ln p, ln q, ln gamma.
func (d *ggData) logLik(g GammaGamma, grad []float64) float64 {
	p, q, gam := g.P, g.Q, g.Gamma
	lnGam := math.Log(gam)
	var ll, dp, dq, dg float64
	var psiQ float64
	if grad != nil {
		psiQ = mathext.Digamma(q)
	}
	for gi := range d.groups {
		gr := &d.groups[gi]
		x := gr.x
		px := p * x
		ll += gr.w * (lgamma(px+q) - lgamma(px) - lgamma(q) + q*lnGam + px*gr.lnX)
		var slnm, sln, sinv float64
		for _, it := range gr.items {
			ln := math.Log(gam + x*it.m)
			ll += it.w * ((px-1)*it.lnM - (px+q)*ln)
			if grad != nil {
				slnm += it.w * it.lnM
				sln += it.w * ln
				sinv += it.w / (gam + x*it.m)
			}
		}
		if grad != nil {
			psiPXQ := mathext.Digamma(px + q)
			dp += gr.w*x*(psiPXQ-mathext.Digamma(px)+gr.lnX) + x*(slnm-sln)
			dq += gr.w*(psiPXQ-psiQ+lnGam) - sln
			dg += gr.w*q/gam - (px+q)*sinv
		}
	}
	if grad != nil {
		grad[0], grad[1], grad[2] = dp*p, dq*q, dg*gam
	}
	return ll
}
