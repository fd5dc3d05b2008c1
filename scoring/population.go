package scoring

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Population is the distribution of the active customers (those with a sale
// in the window) that quantile scores and the Pareto set are relative to.
// The processor keeps one set of histogram bins per partition, adds the
// Contrib of every customer to them, merges the partitions every few
// seconds and hands the result to Evaluate.
//
// Recency and tenure change with time, so their histograms hold day numbers
// (days since the Unix epoch) of the last and first purchase, which do not
// go stale; the quantiles of recency_days and tenure_days are derived as
// day(AsOf) - quantile(day). Treat a Population as immutable once it is
// passed to Evaluate (build a new one for each refresh): the Engine caches
// the quantiles derived from the last Population it saw.
type Population struct {
	Recency   *Histogram // last purchase day, exact bins
	Frequency *Histogram // sales in the window, exact bins
	Monetary  *Histogram // net money in the window, major units, log bins of MonetaryAlpha
	Tenure    *Histogram // first purchase day, exact bins
	// AsOf is when the histograms were read. Required for recency and tenure
	// quantiles: when zero they fall back to thresholds.
	AsOf time.Time
}

// NewPopulation returns an empty population with the histogram layouts
// Contrib's bins refer to.
func NewPopulation(asOf time.Time) *Population {
	return &Population{
		Recency:   NewExactHistogram(),
		Frequency: NewExactHistogram(),
		Monetary:  NewLogHistogram(MonetaryAlpha),
		Tenure:    NewExactHistogram(),
		AsOf:      asOf,
	}
}

// Add adds delta times the customer contribution c (nothing for the zero
// Contrib). Moving a customer from old to new is Add(old, -1), Add(new, 1).
func (p *Population) Add(c Contrib, delta int64) {
	if !c.Active {
		return
	}
	for _, h := range [...]struct {
		h   *Histogram
		bin int32
	}{{p.Recency, c.Recency}, {p.Frequency, c.Frequency}, {p.Monetary, c.Monetary}, {p.Tenure, c.Tenure}} {
		if h.h != nil {
			h.h.AddBin(h.bin, delta)
		}
	}
}

// Merge adds the counts of o (another partition) to p. Both must come from
// NewPopulation.
func (p *Population) Merge(o *Population) error {
	if p.Recency == nil || p.Frequency == nil || p.Monetary == nil || p.Tenure == nil {
		return fmt.Errorf("merge into a population without histograms: %w", ErrHistogramKind)
	}
	return errors.Join(
		p.Recency.Merge(o.Recency),
		p.Frequency.Merge(o.Frequency),
		p.Monetary.Merge(o.Monetary),
		p.Tenure.Merge(o.Tenure),
	)
}

// Active is the number of active customers (the Frequency histogram's count).
func (p *Population) Active() int64 {
	if p == nil || p.Frequency == nil {
		return 0
	}
	return p.Frequency.Count()
}

// ParetoThreshold returns the least window monetary value (major units) of
// the Pareto set: the customers with the highest monetary values whose sum
// first reaches 80 % of the positive window revenue, computed from the
// Monetary bins (each bin's customers counted at the bin's value, so within
// MonetaryAlpha; customers sharing the threshold's bin all belong to the
// set). NaN when there is no positive revenue.
func (p *Population) ParetoThreshold() float64 {
	if p == nil || p.Monetary == nil {
		return math.NaN()
	}
	b, ok := paretoBin(p.Monetary.cumulative())
	if !ok {
		return math.NaN()
	}
	return p.Monetary.BinValue(b)
}

// ParetoShare is the Pareto set's share of the active customers, a KPI; NaN
// when there is no positive revenue.
func (p *Population) ParetoShare() float64 {
	if p == nil || p.Monetary == nil {
		return math.NaN()
	}
	c := p.Monetary.cumulative()
	b, ok := paretoBin(c)
	if !ok || c.total() == 0 {
		return math.NaN()
	}
	var top int64
	for i, bin := range c.bins {
		if bin >= b {
			top += c.count(i)
		}
	}
	return float64(top) / float64(c.total())
}

func (c cumHist) count(i int) int64 {
	if i == 0 {
		return c.cum[0]
	}
	return c.cum[i] - c.cum[i-1]
}

// paretoShare is the revenue share that defines the Pareto set.
const paretoShare = 0.8

func paretoBin(c cumHist) (int32, bool) {
	var total float64
	for i, b := range c.bins {
		if v := c.h.BinValue(b); v > 0 {
			total += v * float64(c.count(i))
		}
	}
	if total <= 0 {
		return 0, false
	}
	var acc float64
	for i := len(c.bins) - 1; i >= 0; i-- {
		v := c.h.BinValue(c.bins[i])
		if v <= 0 {
			break
		}
		acc += v * float64(c.count(i))
		if acc >= paretoShare*total*(1-1e-12) {
			return c.bins[i], true
		}
	}
	return c.bins[0], true
}

// Contrib is a customer's contribution to the population histograms: its
// bin in each, for an active customer. The zero Contrib means "in no
// histogram". It is comparable; the processor stores it per customer (as
// String) and moves the customer between bins when it changes.
type Contrib struct {
	Active    bool
	Recency   int32 // bin of the last purchase day in Population.Recency
	Frequency int32 // bin of frequency in Population.Frequency
	Monetary  int32 // bin of monetary in Population.Monetary
	Tenure    int32 // bin of the first purchase day in Population.Tenure
}

// String encodes c compactly: "" for the zero Contrib, else the four bins
// in base 36 separated by dots, e.g. "fbz.3.mg1s.f8k".
func (c Contrib) String() string {
	if !c.Active {
		return ""
	}
	var b []byte
	for i, v := range [4]int32{c.Recency, c.Frequency, c.Monetary, c.Tenure} {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(v), 36)
	}
	return string(b)
}

// ParseContrib decodes Contrib.String's output.
func ParseContrib(s string) (Contrib, error) {
	if s == "" {
		return Contrib{}, nil
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return Contrib{}, fmt.Errorf("parse contrib %q: want 4 fields, got %d", s, len(parts))
	}
	var v [4]int32
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 36, 32)
		if err != nil {
			return Contrib{}, fmt.Errorf("parse contrib %q: %w", s, err)
		}
		v[i] = int32(n)
	}
	return Contrib{Active: true, Recency: v[0], Frequency: v[1], Monetary: v[2], Tenure: v[3]}, nil
}

// Bin layouts of the population histograms, for computing Contrib.
var (
	exactLayout    = NewExactHistogram()
	monetaryLayout = NewLogHistogram(MonetaryAlpha)
)

// popCuts is what an Engine derives from a Population: the quintile cut
// points with their hysteresis bands, and the Pareto threshold bin.
type popCuts struct {
	pop       *Population
	ok        [4]bool // quantile cuts usable for R, F, M, T
	cuts      [4]cutSet
	paretoBin int32
	paretoOK  bool
}

// quantileCuts derives the quintile cut points of p. Recency and tenure
// cuts are in days: day(AsOf) - quantile of the purchase day at 1-q.
func (e *Engine) quantileCuts(p *Population) *popCuts {
	pc := &popCuts{pop: p}
	h := e.cfg.Hysteresis
	minPop := e.cfg.MinPopulation
	dayCuts := func(i int, hist *Histogram) {
		if hist == nil || p.AsOf.IsZero() {
			return
		}
		c := hist.cumulative()
		if c.total() < minPop {
			return
		}
		asOf := float64(dayNumber(p.AsOf))
		for k := 1; k <= 4; k++ {
			q := 1 - float64(k)/5
			pc.cuts[i].cut[k-1] = asOf - c.quantile(q)
			pc.cuts[i].lo[k-1] = asOf - c.quantile(q+h)
			pc.cuts[i].hi[k-1] = asOf - c.quantile(q-h)
		}
		pc.ok[i] = true
	}
	valueCuts := func(i int, hist *Histogram) {
		if hist == nil {
			return
		}
		c := hist.cumulative()
		if c.total() < minPop {
			return
		}
		for k := 1; k <= 4; k++ {
			q := float64(k) / 5
			pc.cuts[i].cut[k-1] = c.quantile(q)
			pc.cuts[i].lo[k-1] = c.quantile(q - h)
			pc.cuts[i].hi[k-1] = c.quantile(q + h)
		}
		pc.ok[i] = true
	}
	dayCuts(scoreR, p.Recency)
	valueCuts(scoreF, p.Frequency)
	valueCuts(scoreM, p.Monetary)
	dayCuts(scoreT, p.Tenure)
	if p.Monetary != nil {
		pc.paretoBin, pc.paretoOK = paretoBin(p.Monetary.cumulative())
	}
	return pc
}

// cutsFor returns the cached cuts of p, computing them on a miss.
func (e *Engine) cutsFor(p *Population) *popCuts {
	if p == nil {
		return nil
	}
	if c := e.cache.Load(); c != nil && c.pop == p {
		return c
	}
	c := e.quantileCuts(p)
	e.cache.Store(c)
	return c
}
