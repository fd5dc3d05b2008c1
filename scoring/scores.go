package scoring

// Indexes of the scores in Scores.Packed and Customer.Scores.
const (
	scoreR = iota
	scoreF
	scoreM
	scoreT
)

// Scores are the R, F, M and T scores, 1..5 (5 best: most recent, most
// frequent, most money, longest tenure); all 0 for a customer who never
// purchased.
type Scores struct {
	R int `json:"r"`
	F int `json:"f"`
	M int `json:"m"`
	T int `json:"t"`
}

// Packed returns the scores as stored in Customer.Scores.
func (s Scores) Packed() [4]int8 {
	return [4]int8{int8(s.R), int8(s.F), int8(s.M), int8(s.T)}
}

// RFM is the classic three-digit code, e.g. "545".
func (s Scores) RFM() string {
	return string([]byte{digit(s.R), digit(s.F), digit(s.M)})
}

// FM is the average of the F and M scores.
func (s Scores) FM() float64 { return float64(s.F+s.M) / 2 }

func digit(n int) byte {
	if n < 0 || n > 9 {
		return '?'
	}
	return byte('0' + n)
}

func (s *Scores) at(i int) int {
	switch i {
	case scoreR:
		return s.R
	case scoreF:
		return s.F
	case scoreM:
		return s.M
	}
	return s.T
}

// cutSet holds four ascending cut points and, for quantile cuts, the
// hysteresis band around each: lo[k] <= cut[k] <= hi[k].
type cutSet struct {
	cut, lo, hi [4]float64
}

func fixedCuts(v []float64) cutSet {
	var c cutSet
	copy(c.cut[:], v)
	c.lo, c.hi = c.cut, c.cut
	return c
}

// score returns the ascending score 1..5 of v: 1 + the number of cut points
// strictly below v. With a previous score prev (1..5) the score moves only
// past the band: it is prev clamped to [1 + #{hi < v}, 1 + #{lo < v}].
func (c *cutSet) score(v float64, prev int) int {
	raw, up, down := 1, 1, 1
	for k := range 4 {
		if v > c.cut[k] {
			raw++
		}
		if v > c.hi[k] {
			up++
		}
		if v > c.lo[k] {
			down++
		}
	}
	if prev < 1 || prev > 5 {
		return raw
	}
	return min(max(prev, up), down)
}

// upper is the value above which the ascending score s (1..4) increases,
// the band included; +Inf semantics are left to the caller (s == 5).
func (c *cutSet) upper(s int) float64 { return c.hi[s-1] }

// cutsOf returns the cuts for score i in the given mode and whether they
// carry a hysteresis band (population quantiles).
func (e *Engine) cutsOf(i int, quantile bool, pc *popCuts) (*cutSet, bool) {
	if quantile && pc != nil && pc.ok[i] {
		return &pc.cuts[i], true
	}
	return &e.thr[i], false
}

// scores computes the four scores in one mode. prev are the previously
// stored scores (Customer.Scores), applied only to banded cuts.
func (e *Engine) scores(x *evalCtx, quantile bool, pc *popCuts, prev *[4]int8) Scores {
	if !x.purchased {
		return Scores{}
	}
	p := func(i int) int {
		if prev == nil {
			return 0
		}
		return int(prev[i])
	}
	var s Scores
	cs, banded := e.cutsOf(scoreR, quantile, pc)
	pr := 0
	if banded && p(scoreR) >= 1 {
		pr = 6 - p(scoreR)
	}
	s.R = 6 - cs.score(float64(x.m.RecencyDays), pr)
	vals := [4]float64{0, float64(x.m.Frequency), x.m.Monetary, float64(x.m.TenureDays)}
	for _, i := range [3]int{scoreF, scoreM, scoreT} {
		cs, banded := e.cutsOf(i, quantile, pc)
		pv := 0
		val := vals[i]
		if banded {
			pv = p(i)
			if i == scoreM {
				// the cut points are bin values of the log-binned
				// histogram: compare the customer's bin value, or every
				// customer tied on a cut point would rank above it
				val = monetaryLayout.BinValue(monetaryLayout.BinOf(val))
			}
		}
		v := cs.score(val, pv)
		switch i {
		case scoreF:
			s.F = v
		case scoreM:
			s.M = v
		default:
			s.T = v
		}
	}
	return s
}
