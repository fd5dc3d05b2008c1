package scoring

import (
	"math"
	"time"
)

// nextDue is the earliest instant after now at which a published output
// (segment, churn level) or the population contribution could change with
// no new event; see the package documentation, "Next due time".
func (e *Engine) nextDue(x *evalCtx, pc *popCuts, s *scratch) time.Time {
	c := x.c
	var best time.Time
	consider := func(t time.Time) {
		if t.After(x.now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	d := &e.deps

	// The oldest counted bucket leaves the window at the start of UTC day
	// D + bucket_days + window_days: frequency, monetary, margin, the f and m
	// scores and the population contribution change then.
	if x.oldestBucket != math.MaxInt64 {
		day := x.oldestBucket + int64(e.cfg.BucketDays) + int64(e.cfg.WindowDays)
		consider(time.Unix(day*86400, 0).UTC())
	}

	if x.purchased {
		lp := c.LastPurchase
		k := x.m.RecencyDays
		kmax := k + e.maxDueDays + 1
		at := func(k int64) time.Time { return lp.Add(time.Duration(k) * Day) }
		// The churn level, a step function of the recency day.
		if j, ok := firstChange(k, kmax, func(j int64) bool {
			return e.levelOf(e.pAliveAt(x, j)) != x.level
		}); ok {
			consider(at(j))
		}
		for mi, on := range d.rModes {
			if !on {
				continue
			}
			s := x.sc
			if (mi == 1) != e.quantile {
				s = x.alt
			}
			if j, ok := e.scoreCrossing(scoreR, mi == 1, pc, 6-s.R, float64(k)); ok {
				consider(at(j))
			}
		}
		fp := c.FirstPurchase
		if fp.IsZero() {
			fp = lp
		}
		for mi, on := range d.tModes {
			if !on {
				continue
			}
			s := x.sc
			if (mi == 1) != e.quantile {
				s = x.alt
			}
			if j, ok := e.scoreCrossing(scoreT, mi == 1, pc, s.T, float64(x.m.TenureDays)); ok {
				consider(fp.Add(time.Duration(j) * Day))
			}
		}
	}
	for _, v := range d.steps {
		if a, k, ok := x.clock(v.clock); ok {
			consider(a.Add(time.Duration(k+1) * Day))
		}
	}
	for _, cr := range d.crossings {
		v := cr.v
		a, k, ok := x.clock(v.clock)
		if !ok {
			continue
		}
		kmax := k + e.maxDueDays + 1
		for _, th := range cr.th {
			c := th.c
			if th.prog != nil {
				out, err := s.vm.Run(th.prog, s.env)
				if c, ok = number(out); err != nil || !ok {
					// Not computable: fall back to the next step.
					consider(a.Add(time.Duration(k+1) * Day))
					continue
				}
			}
			var changed func(int64) bool
			now := v.num(x) // = v.at(e, x, k), already computed
			if th.exact() {
				h0 := th.holds(now, c)
				changed = func(j int64) bool { return th.holds(v.at(e, x, j), c) != h0 }
			} else {
				s0 := sign(now - c)
				changed = func(j int64) bool { return sign(v.at(e, x, j)-c) != s0 }
			}
			if j, ok := firstChange(k, kmax, changed); ok {
				consider(a.Add(time.Duration(j) * Day))
			}
		}
	}

	limit := x.now.Add(e.cfg.MaxDue)
	if best.IsZero() {
		if x.purchased {
			return limit
		}
		return time.Time{}
	}
	if best.After(limit) {
		return limit
	}
	return best
}

// clock returns the anchor instant and current whole-day count of a day
// counter, false when it does not run (the event never happened).
func (x *evalCtx) clock(k clockKind) (time.Time, int64, bool) {
	c := x.c
	switch k {
	case clockRecency:
		if x.purchased {
			return c.LastPurchase, x.m.RecencyDays, true
		}
	case clockTenure:
		a := c.FirstPurchase
		if a.IsZero() {
			a = c.FirstSeen
		}
		if !a.IsZero() {
			return a, x.m.TenureDays, true
		}
	case clockContact:
		if !c.LastContact.IsZero() {
			return c.LastContact, x.m.DaysSinceContact, true
		}
	}
	return time.Time{}, 0, false
}

// scoreCrossing returns the first whole-day count at which the ascending
// score asc (1..5) of a day-valued variable (recency days, tenure days)
// currently at value v increases: the first integer above the upper end of
// its band (the cut point itself for thresholds or without hysteresis).
func (e *Engine) scoreCrossing(i int, quantile bool, pc *popCuts, asc int, v float64) (int64, bool) {
	if asc < 1 || asc > 4 {
		return 0, false
	}
	cs, banded := e.cutsOf(i, quantile, pc)
	u := cs.cut[asc-1]
	if banded && quantile == e.quantile && e.cfg.Hysteresis > 0 {
		u = cs.upper(asc)
	}
	j := int64(math.Floor(u)) + 1
	if float64(j) <= v {
		return 0, false
	}
	return j, true
}

// firstChange returns the least j in (k, kmax] with changed(j), assuming
// changed is monotone in j (false up to some j, true from there on).
func firstChange(k, kmax int64, changed func(int64) bool) (int64, bool) {
	if kmax <= k || !changed(kmax) {
		return 0, false
	}
	lo, hi := k, kmax
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if changed(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
