package scoring

import (
	"math"
	"time"

	"github.com/clienting/clienting/scoring/clv"
)

// Churn-risk levels.
const (
	LevelLow    = "low"
	LevelMedium = "medium"
	LevelHigh   = "high"
)

// ModelHeuristic is Churn.Model when the recency heuristic decided P(alive).
const ModelHeuristic = "heuristic"

var levelNames = [...]string{"", LevelLow, LevelMedium, LevelHigh}

// Model is a fitted BG/NBD + Gamma-Gamma model as used for scoring.
type Model struct {
	clv.Params
	// Value is what the Gamma-Gamma spend model was fitted on: "money"
	// (also when empty) or "margin", in major units of the base currency.
	// When it differs from scoring.clv.value, CLV is converted with the
	// customer's lifetime margin/money ratio.
	Value string
}

// usable reports whether m can score: valid time unit and parameters.
func (m *Model) usable() bool {
	if m == nil || m.TimeUnit <= 0 {
		return false
	}
	b := m.BGNBD
	return b.R > 0 && b.Alpha > 0 && b.A > 0 && b.B > 0
}

// SummaryOf returns the customer's history in the model's terms, as of
// end, in unit (the fit and the scorer must agree on it):
//
//   - X = PurchaseDays - 1 (distinct purchase days after the first);
//   - TX = day(LastPurchase) - day(FirstPurchase), T = day(end) -
//     day(FirstPurchase), in whole UTC days converted to unit, as
//     clv.Summarize counts them;
//   - Mean = lifetime net value / Purchases in major units (value "money"
//     or "margin"), 0 when X = 0 or the value is not positive. The store
//     does not keep the first purchase's value apart, so this mean over all
//     sales approximates the Gamma-Gamma mean of the repeat purchases.
//
// A customer without purchases has the zero Summary.
func SummaryOf(c *Customer, end time.Time, unit time.Duration, value string, minorPerMajor int64) clv.Summary {
	if c.FirstPurchase.IsZero() || c.LastPurchase.IsZero() || unit <= 0 {
		return clv.Summary{}
	}
	perDay := float64(Day) / float64(unit)
	first := dayNumber(c.FirstPurchase)
	s := clv.Summary{
		X:  float64(max(c.PurchaseDays-1, 0)),
		TX: float64(max(dayNumber(c.LastPurchase)-first, 0)) * perDay,
		T:  float64(max(dayNumber(end)-first, 0)) * perDay,
	}
	s.T = max(s.T, s.TX)
	if s.X == 0 {
		s.TX = 0
	} else if s.TX == 0 {
		// Several purchase days but first and last on one day: out-of-order
		// state; keep the summary possible.
		s.X = 0
	}
	if s.X > 0 && c.Purchases > 0 {
		v := c.Money
		if value == ValueMargin {
			v = c.Margin
		}
		if v > 0 {
			s.Mean = float64(v) / float64(c.Purchases) / float64(max(minorPerMajor, 1))
		}
	}
	return s
}

// Summary is SummaryOf with the engine's configuration.
func (e *Engine) Summary(c *Customer, end time.Time, unit time.Duration) clv.Summary {
	return SummaryOf(c, end, unit, e.cfg.CLV.Value, e.cfg.MinorPerMajor)
}

// churnState is what the churn step needs to evaluate the model at any
// recency day k of the customer.
type churnState struct {
	model    *Model // nil: heuristic
	gapDays  float64
	heurP    bool    // P(alive) from the heuristic (no model, or no repeat purchase)
	valuePer float64 // heuristic: value per sale, minor units
	ratio    float64 // model: CLV conversion factor to the configured value
	sum      clv.Summary
	lpDay    int64 // day(LastPurchase) - day(FirstPurchase), the T at k = 0 in days
	perDay   float64
	hUnits   float64
	hInt     int
	discUnit float64
}

// setupChurn prepares x.ch for the customer; false if it never purchased.
func (e *Engine) setupChurn(x *evalCtx, m *Model) {
	c := x.c
	ch := &x.ch
	*ch = churnState{}
	cfg := &e.cfg.Churn
	if m.usable() {
		ch.model = m
		unit := m.TimeUnit
		ch.perDay = float64(Day) / float64(unit)
		ch.sum = SummaryOf(c, c.LastPurchase, unit, e.valueBasis(m), e.cfg.MinorPerMajor)
		ch.lpDay = dayNumber(c.LastPurchase) - dayNumber(c.FirstPurchase)
		ch.hUnits = float64(e.cfg.CLV.HorizonDays) * ch.perDay
		ch.hInt = max(1, int(math.Round(ch.hUnits)))
		ch.discUnit = math.Pow(1+e.cfg.CLV.AnnualDiscount, float64(unit)/float64(365*Day)) - 1
		ch.ratio = 1
		if e.valueBasis(m) != e.cfg.CLV.Value {
			// Convert model money to margin (or back) with the customer's ratio.
			ch.ratio = 0
			if e.cfg.CLV.Value == ValueMargin && c.Money > 0 {
				ch.ratio = float64(c.Margin) / float64(c.Money)
			} else if e.cfg.CLV.Value == ValueMoney && c.Margin > 0 {
				ch.ratio = float64(c.Money) / float64(c.Margin)
			}
		}
		if ch.sum.X == 0 {
			// BG/NBD lets nobody drop out before the first repeat purchase
			// (P(alive) = 1): use the heuristic with the population's mean
			// gap between purchases, 1/E[lambda] = alpha/r time units.
			ch.heurP = true
			ch.gapDays = clamp(m.BGNBD.Alpha/m.BGNBD.R/ch.perDay, cfg.MinGapDays, cfg.MaxGapDays)
		}
		return
	}
	ch.heurP = true
	ch.gapDays = cfg.DefaultGapDays
	if c.PurchaseDays >= 2 && c.LastPurchase.After(c.FirstPurchase) {
		ch.gapDays = c.LastPurchase.Sub(c.FirstPurchase).Hours() / 24 / float64(c.PurchaseDays-1)
	}
	ch.gapDays = clamp(ch.gapDays, cfg.MinGapDays, cfg.MaxGapDays)
	if c.Purchases > 0 {
		v := c.Money
		if e.cfg.CLV.Value == ValueMargin {
			v = c.Margin
		}
		ch.valuePer = float64(v) / float64(c.Purchases)
	}
}

func (e *Engine) valueBasis(m *Model) string {
	if m.Value == ValueMargin {
		return ValueMargin
	}
	return ValueMoney
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// heuristicPAlive is the recency heuristic: P(alive) = 1 while the whole
// days since the last purchase k are at most the expected gap g, then
// exp(-(k-g)/g).
func heuristicPAlive(k int64, g float64) float64 {
	d := float64(k) - g
	if d <= 0 {
		return 1
	}
	return math.Exp(-d / g)
}

// modelAt returns P(alive), expected purchases in the horizon and CLV in
// minor units at recency day k (the customer's k-th whole day without a
// purchase). All three are step functions of k, monotone in k (P(alive)
// and expected purchases non-increasing, CLV towards 0).
func (e *Engine) modelAt(x *evalCtx, k int64) (p, expected, clvMinor float64) {
	ch := &x.ch
	if ch.model == nil {
		return e.pAliveAt(x, k), e.expectedAt(x, k), e.clvAt(x, k)
	}
	// One pass: the CLV sum evaluates the expected purchases on the way.
	ev := ch.model.Evaluate(x.summaryAt(k), ch.hUnits, ch.hInt, ch.discUnit)
	p = nanTo0(ev.PAlive)
	if ch.heurP {
		p = heuristicPAlive(k, ch.gapDays)
	}
	return p, nanTo0(ev.ExpectedPurchases), nanTo0(ev.CLV * ch.ratio * float64(e.cfg.MinorPerMajor))
}

// summaryAt is the model summary at recency day k.
func (x *evalCtx) summaryAt(k int64) clv.Summary {
	s := x.ch.sum
	s.T = float64(x.ch.lpDay+k) * x.ch.perDay
	return s
}

func (e *Engine) pAliveAt(x *evalCtx, k int64) float64 {
	ch := &x.ch
	if ch.heurP {
		return heuristicPAlive(k, ch.gapDays)
	}
	s := x.summaryAt(k)
	return nanTo0(ch.model.BGNBD.PAlive(s.X, s.TX, s.T))
}

func (e *Engine) expectedAt(x *evalCtx, k int64) float64 {
	ch := &x.ch
	if ch.model == nil {
		return heuristicPAlive(k, ch.gapDays) * float64(e.cfg.CLV.HorizonDays) / ch.gapDays
	}
	s := x.summaryAt(k)
	return nanTo0(ch.model.BGNBD.ConditionalExpectedPurchases(ch.hUnits, s.X, s.TX, s.T))
}

func (e *Engine) clvAt(x *evalCtx, k int64) float64 {
	ch := &x.ch
	if ch.model == nil {
		return e.expectedAt(x, k) * ch.valuePer * e.discFactor
	}
	v := clv.CLV(ch.model.Params, x.summaryAt(k), ch.hInt, ch.discUnit)
	return nanTo0(v * ch.ratio * float64(e.cfg.MinorPerMajor))
}

func nanTo0(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// levelOf maps P(alive) to a level index into levelNames (1 low .. 3 high).
func (e *Engine) levelOf(p float64) uint8 {
	switch {
	case p < e.cfg.Churn.HighBelow:
		return 3
	case p < e.cfg.Churn.MediumBelow:
		return 2
	}
	return 1
}

// churn fills the model metrics and the churn level.
func (e *Engine) churn(x *evalCtx, m *Model) {
	if !x.purchased {
		x.level = 0
		x.churn = Churn{}
		return
	}
	e.setupChurn(x, m)
	p, exp, v := e.modelAt(x, x.m.RecencyDays)
	x.m.PAlive = p
	x.m.ExpectedPurchases = exp
	x.m.CLV = v / float64(e.cfg.MinorPerMajor)
	x.level = e.levelOf(p)
	model := ModelHeuristic
	if x.ch.model != nil && !x.ch.heurP {
		model = x.ch.model.Version
	}
	x.churn = Churn{Level: levelNames[x.level], PAlive: p, ExpectedPurchases: exp, CLV: v, Model: model}
}

// discountFactor is the mean discount over a horizon of H days of value
// spread evenly over it: (1 - (1+d)^(-H/365)) / ((H/365) ln(1+d)).
func discountFactor(annual float64, horizonDays int) float64 {
	if annual <= 0 {
		return 1
	}
	y := float64(horizonDays) / 365
	l := math.Log1p(annual)
	return -math.Expm1(-y*l) / (y * l)
}
