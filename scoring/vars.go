package scoring

import (
	"github.com/expr-lang/expr/types"
)

// varKind is the type of a rule variable.
type varKind uint8

const (
	kindInt varKind = iota
	kindFloat
	kindBool
	kindString
)

func (k varKind) exprType() types.Type {
	switch k {
	case kindInt:
		return types.Int
	case kindFloat:
		return types.Float64
	case kindBool:
		return types.Bool
	}
	return types.String
}

// String names the kind as the README's variable table does.
func (k varKind) String() string {
	return [...]string{"int", "float", "bool", "string"}[k]
}

// source is a bit set of what makes a variable change with time alone,
// besides its day counter (clock).
type source uint16

const (
	srcWindow source = 1 << iota // a window bucket expires
	srcR                         // the R score crosses a cut point
	srcT                         // the T score crosses a cut point
	srcChurn                     // the churn level changes
)

// clockKind names the day counter a variable is a function of; constant
// comparisons of such a variable have exact crossing days.
type clockKind uint8

const (
	clockNone clockKind = iota
	clockRecency
	clockTenure
	clockContact
)

// variable is one rule variable.
type variable struct {
	name   string
	kind   varKind
	unit   string
	doc    string
	metric bool      // a Metrics field (Metrics.Value knows it)
	mode   bool      // depends on the score mode (r, f, m, t, fm, rfm)
	src    source    // what changes it with time alone
	clock  clockKind // its day counter, for exact crossings of constants
	// num returns the numeric value (bools 0/1); nil for strings.
	num func(*evalCtx) float64
	// box returns the value as the expression environment holds it,
	// pre-boxed so that it does not allocate; nil derives it from num.
	box func(*evalCtx) any
	// at returns the value at day k of its clock (clock != clockNone).
	at func(e *Engine, x *evalCtx, k int64) float64
}

func (v *variable) numeric() bool { return v.kind == kindInt || v.kind == kindFloat }

// boxedIn returns the environment value, a number kept in *slot instead
// of a new allocation (see boxFloat); strings and bools are pre-boxed.
func (v *variable) boxedIn(x *evalCtx, slot *uint64) any {
	if v.box != nil {
		return v.box(x)
	}
	switch v.kind {
	case kindInt:
		return boxInt(slot, int(v.num(x)))
	case kindFloat:
		return boxFloat(slot, v.num(x))
	}
	return v.box(x)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	boxTrue, boxFalse any = true, false
	levelBoxed            = [...]any{"", LevelLow, LevelMedium, LevelHigh}
	rfmBoxed          [6][6][6]any
	fmBoxed           [11]any // (f+m)/2 for f+m = 0..10
)

func init() {
	for i := range fmBoxed {
		fmBoxed[i] = float64(i) / 2
	}
	for r := range 6 {
		for f := range 6 {
			for m := range 6 {
				rfmBoxed[r][f][m] = string([]byte{byte('0' + r), byte('0' + f), byte('0' + m)})
			}
		}
	}
}

func boxBool(b bool) any {
	if b {
		return boxTrue
	}
	return boxFalse
}

func dayAt(_ *Engine, _ *evalCtx, k int64) float64 { return float64(k) }

func score5(s int) int { return min(max(s, 0), 5) }

// variables are all rule variables except score.<profile> and
// segment.<segmentation>, in documentation order.
var variables = []*variable{
	{name: "recency_days", kind: kindInt, unit: "days", metric: true, clock: clockRecency, at: dayAt,
		doc: "whole days since the last purchase; 100000 (NeverDays) if none",
		num: func(x *evalCtx) float64 { return float64(x.m.RecencyDays) }},
	{name: "frequency", kind: kindInt, unit: "sales", metric: true, src: srcWindow,
		doc: "sales in the rolling window",
		num: func(x *evalCtx) float64 { return float64(x.m.Frequency) }},
	{name: "monetary", kind: kindFloat, unit: "major units", metric: true, src: srcWindow,
		doc: "net money (sales minus refunds) in the window",
		num: func(x *evalCtx) float64 { return x.m.Monetary }},
	{name: "margin", kind: kindFloat, unit: "major units", metric: true, src: srcWindow,
		doc: "net margin in the window",
		num: func(x *evalCtx) float64 { return x.m.Margin }},
	{name: "profit", kind: kindFloat, unit: "major units", metric: true, src: srcWindow,
		doc: "margin - cost_to_serve * frequency",
		num: func(x *evalCtx) float64 { return x.m.Profit }},
	{name: "tenure_days", kind: kindInt, unit: "days", metric: true, clock: clockTenure, at: dayAt,
		doc: "whole days since the first purchase (since first seen if none; 0 if neither)",
		num: func(x *evalCtx) float64 { return float64(x.m.TenureDays) }},
	{name: "lifetime_money", kind: kindFloat, unit: "major units", metric: true,
		doc: "lifetime net money",
		num: func(x *evalCtx) float64 { return x.m.LifetimeMoney }},
	{name: "lifetime_margin", kind: kindFloat, unit: "major units", metric: true,
		doc: "lifetime net margin",
		num: func(x *evalCtx) float64 { return x.m.LifetimeMargin }},
	{name: "lifetime_purchases", kind: kindInt, unit: "sales", metric: true,
		doc: "lifetime sales (refunds not counted)",
		num: func(x *evalCtx) float64 { return float64(x.m.LifetimePurchases) }},
	{name: "avg_order_value", kind: kindFloat, unit: "major units", metric: true,
		doc: "lifetime_money / lifetime_purchases; 0 if none",
		num: func(x *evalCtx) float64 { return x.m.AvgOrderValue }},
	{name: "refunds", kind: kindInt, unit: "refunds", metric: true,
		doc: "lifetime refunds",
		num: func(x *evalCtx) float64 { return float64(x.m.Refunds) }},
	{name: "refund_rate", kind: kindFloat, unit: "0..1", metric: true,
		doc: "refunds / lifetime_purchases, at most 1; 0 if none",
		num: func(x *evalCtx) float64 { return x.m.RefundRate }},
	{name: "open_complaints", kind: kindInt, unit: "complaints", metric: true,
		doc: "complaints opened and not yet resolved",
		num: func(x *evalCtx) float64 { return float64(x.m.OpenComplaints) }},
	{name: "open_complaint_severity", kind: kindInt, unit: "0..4", metric: true,
		doc: "highest severity of the open complaints: 1 low, 2 medium, 3 high, 4 critical; 0 if none",
		num: func(x *evalCtx) float64 { return float64(x.m.OpenComplaintSeverity) }},
	{name: "complaints", kind: kindInt, unit: "complaints", metric: true,
		doc: "lifetime complaints opened",
		num: func(x *evalCtx) float64 { return float64(x.m.Complaints) }},
	{name: "contacts", kind: kindInt, unit: "contacts", metric: true,
		doc: "lifetime contacts",
		num: func(x *evalCtx) float64 { return float64(x.m.Contacts) }},
	{name: "contacts_since_purchase", kind: kindInt, unit: "contacts", metric: true,
		doc: "contacts after the last purchase",
		num: func(x *evalCtx) float64 { return float64(x.m.ContactsSincePurchase) }},
	{name: "responses", kind: kindInt, unit: "responses", metric: true,
		doc: "lifetime responses (inbound contacts and outbound ones with a response outcome)",
		num: func(x *evalCtx) float64 { return float64(x.m.Responses) }},
	{name: "response_rate", kind: kindFloat, unit: "0..1", metric: true,
		doc: "responses / contacts, at most 1; 0 if none",
		num: func(x *evalCtx) float64 { return x.m.ResponseRate }},
	{name: "days_since_contact", kind: kindInt, unit: "days", metric: true, clock: clockContact, at: dayAt,
		doc: "whole days since the last contact; 100000 (NeverDays) if none",
		num: func(x *evalCtx) float64 { return float64(x.m.DaysSinceContact) }},
	{name: "p_alive", kind: kindFloat, unit: "0..1", metric: true, clock: clockRecency,
		doc: "probability the customer is still active (BG/NBD, or the recency heuristic); 0 if never purchased",
		num: func(x *evalCtx) float64 { return x.m.PAlive },
		at: func(e *Engine, x *evalCtx, k int64) float64 {
			return e.pAliveAt(x, k)
		}},
	{name: "expected_purchases", kind: kindFloat, unit: "sales", metric: true, clock: clockRecency,
		doc: "expected sales in the CLV horizon",
		num: func(x *evalCtx) float64 { return x.m.ExpectedPurchases },
		at: func(e *Engine, x *evalCtx, k int64) float64 {
			return e.expectedAt(x, k)
		}},
	{name: "clv", kind: kindFloat, unit: "major units", metric: true, clock: clockRecency,
		doc: "customer lifetime value: discounted expected value (margin by default) over the CLV horizon",
		num: func(x *evalCtx) float64 { return x.m.CLV },
		at: func(e *Engine, x *evalCtx, k int64) float64 {
			return e.clvAt(x, k) / float64(e.cfg.MinorPerMajor)
		}},
	{name: "active", kind: kindBool, unit: "bool", metric: true, src: srcWindow,
		doc: "frequency > 0: a sale in the window (the population quantiles are over active customers)",
		num: func(x *evalCtx) float64 { return b2f(x.m.Active) },
		box: func(x *evalCtx) any { return boxBool(x.m.Active) }},

	{name: "r", kind: kindInt, unit: "0..5", mode: true, src: srcR,
		doc: "recency score, 5 = most recent; 0 if never purchased",
		num: func(x *evalCtx) float64 { return float64(x.cur.R) }},
	{name: "f", kind: kindInt, unit: "0..5", mode: true, src: srcWindow,
		doc: "frequency score",
		num: func(x *evalCtx) float64 { return float64(x.cur.F) }},
	{name: "m", kind: kindInt, unit: "0..5", mode: true, src: srcWindow,
		doc: "monetary score",
		num: func(x *evalCtx) float64 { return float64(x.cur.M) }},
	{name: "t", kind: kindInt, unit: "0..5", mode: true, src: srcT,
		doc: "tenure score, 5 = longest tenure",
		num: func(x *evalCtx) float64 { return float64(x.cur.T) }},
	{name: "fm", kind: kindFloat, unit: "0..5", mode: true, src: srcWindow,
		doc: "(f + m) / 2, the FM axis of the classic RFM segment map",
		num: func(x *evalCtx) float64 { return x.cur.FM() },
		box: func(x *evalCtx) any { return fmBoxed[score5(x.cur.F)+score5(x.cur.M)] }},
	{name: "rfm", kind: kindString, unit: "string", mode: true, src: srcR | srcWindow,
		doc: `the three scores as a string, e.g. "545"; "000" if never purchased`,
		box: func(x *evalCtx) any { return rfmBoxed[score5(x.cur.R)][score5(x.cur.F)][score5(x.cur.M)] }},

	{name: "churn", kind: kindString, unit: "string", src: srcChurn,
		doc: `churn-risk level: "low", "medium", "high"; "" if never purchased`,
		box: func(x *evalCtx) any { return levelBoxed[x.level] }},
	{name: "pareto", kind: kindBool, unit: "bool", src: srcWindow,
		doc: "in the Pareto set: the customers with the highest window monetary values making 80 % of window revenue (false without a population)",
		num: func(x *evalCtx) float64 { return b2f(x.pareto) },
		box: func(x *evalCtx) any { return boxBool(x.pareto) }},
	{name: "holdout", kind: kindBool, unit: "bool",
		doc: "in the hold-out group (deterministic per customer id)",
		num: func(x *evalCtx) float64 { return b2f(x.holdout) },
		box: func(x *evalCtx) any { return boxBool(x.holdout) }},
}

var variableIndex = func() map[string]*variable {
	m := make(map[string]*variable, len(variables))
	for _, v := range variables {
		m[v.name] = v
	}
	return m
}()

func variableByName(name string) *variable { return variableIndex[name] }

// scoreWeightIndex maps a profile weight key naming a score to its index.
func scoreWeightIndex(key string) (int, bool) {
	switch key {
	case "recency", "r":
		return scoreR, true
	case "frequency", "f":
		return scoreF, true
	case "monetary", "m":
		return scoreM, true
	case "tenure", "t":
		return scoreT, true
	}
	return 0, false
}
