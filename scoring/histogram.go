package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MonetaryAlpha is the relative accuracy of the log-bucketed monetary
// histogram: every value a quantile returns is within 1 % of a value of the
// right rank. It is a constant, not configuration, because the bins the store
// keeps are only meaningful with the alpha they were computed with.
const MonetaryAlpha = 0.01

// ErrHistogramKind is returned by Merge for histograms with different bin
// layouts.
var ErrHistogramKind = errors.New("scoring: histograms have different bin layouts")

// logBinOffset shifts the bin keys of positive values so that they are all
// positive, which keeps bin keys ordered like the values: negative values
// get negative keys, values with |v| < minIndexable bin 0, positive values
// keys >= 1. It leaves room for alpha down to 1e-4 and values down to 1e-9.
const (
	logBinOffset = 1 << 20
	minIndexable = 1e-9
)

// Histogram is a mergeable histogram with integer bin keys, so that the
// store can keep its bins as Redis hash fields and per-partition histograms
// can be added up. It has one of two layouts:
//
//   - exact (NewExactHistogram): one bin per integer, the value rounded to the
//     nearest integer. Used for day numbers and counts.
//   - log (NewLogHistogram): DDSketch-style bins whose width grows with the
//     value, so that any quantile is within a relative error alpha of a value
//     of the right rank. Bin k >= 1 holds the positive values in
//     (γ^(k-o-1), γ^(k-o)] with γ = (1+alpha)/(1-alpha) and o = 2^20; bin 0
//     holds values with |v| < 1e-9; negative values mirror positive ones with
//     negative keys. Bin keys are ordered like the values they hold.
//
// Counts may be negative transiently (a removal merged before the matching
// addition); negative bins count as empty. A Histogram is not safe for
// concurrent mutation; reading it concurrently is safe.
type Histogram struct {
	alpha  float64 // 0: exact integer bins
	gamma  float64
	lnGam  float64
	counts map[int32]int64
}

// NewExactHistogram returns an empty histogram with one bin per integer.
func NewExactHistogram() *Histogram {
	return &Histogram{counts: make(map[int32]int64)}
}

// NewLogHistogram returns an empty log-bucketed histogram of relative
// accuracy alpha (0 < alpha < 1; 0.01 means 1 %).
func NewLogHistogram(alpha float64) *Histogram {
	if !(alpha >= 1e-4 && alpha < 1) {
		alpha = MonetaryAlpha
	}
	g := (1 + alpha) / (1 - alpha)
	return &Histogram{alpha: alpha, gamma: g, lnGam: math.Log(g), counts: make(map[int32]int64)}
}

// Alpha is the relative accuracy, 0 for an exact histogram.
func (h *Histogram) Alpha() float64 { return h.alpha }

// BinOf returns the key of the bin that holds v.
func (h *Histogram) BinOf(v float64) int32 {
	if math.IsNaN(v) {
		return 0
	}
	if h.alpha == 0 {
		r := math.Round(v)
		switch {
		case r >= math.MaxInt32:
			return math.MaxInt32
		case r <= math.MinInt32:
			return math.MinInt32
		}
		return int32(r)
	}
	a := math.Abs(v)
	if a < minIndexable {
		return 0
	}
	k := math.Ceil(math.Log(a) / h.lnGam)
	k += logBinOffset
	k = math.Max(1, math.Min(k, math.MaxInt32))
	if v < 0 {
		return -int32(k)
	}
	return int32(k)
}

// BinValue returns the representative value of bin b: the integer itself for
// an exact histogram; for a log histogram the value whose relative distance
// to both ends of the bin is at most alpha.
func (h *Histogram) BinValue(b int32) float64 {
	if h.alpha == 0 {
		return float64(b)
	}
	if b == 0 {
		return 0
	}
	k := int64(b)
	sign := 1.0
	if k < 0 {
		k, sign = -k, -1
	}
	k -= logBinOffset
	return sign * 2 * math.Exp(float64(k)*h.lnGam) / (h.gamma + 1)
}

// Add adds delta to the count of v's bin.
func (h *Histogram) Add(v float64, delta int64) { h.AddBin(h.BinOf(v), delta) }

// AddBin adds delta to the count of bin b; a bin whose count reaches zero is
// dropped.
func (h *Histogram) AddBin(b int32, delta int64) {
	if delta == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make(map[int32]int64)
	}
	n := h.counts[b] + delta
	if n == 0 {
		delete(h.counts, b)
		return
	}
	h.counts[b] = n
}

// Merge adds other's counts to h. Both must have the same layout.
func (h *Histogram) Merge(other *Histogram) error {
	if other == nil {
		return nil
	}
	if h.alpha != other.alpha {
		return fmt.Errorf("merge alpha %g into alpha %g: %w", other.alpha, h.alpha, ErrHistogramKind)
	}
	for b, n := range other.counts {
		h.AddBin(b, n)
	}
	return nil
}

// Count is the number of values in the histogram (bins with a negative count
// count as empty).
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h.counts {
		if c > 0 {
			n += c
		}
	}
	return n
}

// Bins calls fn for every non-empty bin, in no particular order.
func (h *Histogram) Bins(fn func(bin int32, count int64)) {
	for b, c := range h.counts {
		fn(b, c)
	}
}

// Quantile returns the value at rank floor(q*(n-1)) (0 <= q <= 1) of the
// values in the histogram (the lower quantile), as its bin's representative
// value; NaN when the histogram is empty.
func (h *Histogram) Quantile(q float64) float64 {
	c := h.cumulative()
	return c.quantile(q)
}

// cumulative returns the non-empty bins in ascending order with running
// counts, the form every quantile computation uses.
func (h *Histogram) cumulative() cumHist {
	bins := make([]int32, 0, len(h.counts))
	for b, c := range h.counts {
		if c > 0 {
			bins = append(bins, b)
		}
	}
	slices.Sort(bins)
	cum := make([]int64, len(bins))
	var n int64
	for i, b := range bins {
		n += h.counts[b]
		cum[i] = n
	}
	return cumHist{h: h, bins: bins, cum: cum}
}

// cumHist is a histogram's bins sorted ascending with cumulative counts.
type cumHist struct {
	h    *Histogram
	bins []int32
	cum  []int64 // cum[i]: values in bins[0..i]
}

func (c cumHist) total() int64 {
	if len(c.cum) == 0 {
		return 0
	}
	return c.cum[len(c.cum)-1]
}

// quantileBin returns the bin holding the value of rank floor(q*(n-1)).
func (c cumHist) quantileBin(q float64) (int32, bool) {
	n := c.total()
	if n == 0 {
		return 0, false
	}
	q = math.Max(0, math.Min(1, q))
	rank := int64(q * float64(n-1))
	i, _ := slices.BinarySearch(c.cum, rank+1)
	if i >= len(c.bins) {
		i = len(c.bins) - 1
	}
	return c.bins[i], true
}

func (c cumHist) quantile(q float64) float64 {
	b, ok := c.quantileBin(q)
	if !ok {
		return math.NaN()
	}
	return c.h.BinValue(b)
}
