package scoring

import (
	"math"
	"time"
)

// Day is the length of a scoring day. Day counts (recency_days, tenure_days,
// days_since_contact) are whole elapsed days since an instant, so they step
// at that instant's time of day, not at midnight, which spreads due times.
const Day = 24 * time.Hour

// NeverDays is the day count of something that never happened
// (recency_days of a customer without purchases, days_since_contact of a
// customer never contacted): larger than any real count, so "recency_days >
// 90" holds, and finite, so it encodes as JSON.
const NeverDays = 100000

// Metrics are the customer's metrics at evaluation time. Money is in major
// units of the base currency. Field docs give the rule variable name.
type Metrics struct {
	RecencyDays           int64   `json:"recency_days"`            // whole days since the last purchase; NeverDays if none
	Frequency             int64   `json:"frequency"`               // sales in the window
	Monetary              float64 `json:"monetary"`                // net money in the window
	Margin                float64 `json:"margin"`                  // net margin in the window
	Profit                float64 `json:"profit"`                  // margin - cost_to_serve * frequency
	TenureDays            int64   `json:"tenure_days"`             // whole days since the first purchase (first seen if none)
	LifetimeMoney         float64 `json:"lifetime_money"`          // lifetime net money
	LifetimeMargin        float64 `json:"lifetime_margin"`         // lifetime net margin
	LifetimePurchases     int64   `json:"lifetime_purchases"`      // lifetime sales
	AvgOrderValue         float64 `json:"avg_order_value"`         // lifetime_money / lifetime_purchases; 0 if none
	Refunds               int64   `json:"refunds"`                 // lifetime refunds
	RefundRate            float64 `json:"refund_rate"`             // refunds / lifetime_purchases, capped at 1; 0 if none
	OpenComplaints        int64   `json:"open_complaints"`         // complaints opened and not resolved
	OpenComplaintSeverity int64   `json:"open_complaint_severity"` // highest open severity 1..4 (low..critical); 0 if none
	Complaints            int64   `json:"complaints"`              // lifetime complaints opened
	Contacts              int64   `json:"contacts"`                // lifetime contacts
	ContactsSincePurchase int64   `json:"contacts_since_purchase"` // contacts after the last purchase
	Responses             int64   `json:"responses"`               // lifetime responses
	ResponseRate          float64 `json:"response_rate"`           // responses / contacts, capped at 1; 0 if none
	DaysSinceContact      int64   `json:"days_since_contact"`      // whole days since the last contact; NeverDays if none
	PAlive                float64 `json:"p_alive"`                 // probability the customer is active; 0 if never purchased
	ExpectedPurchases     float64 `json:"expected_purchases"`      // expected sales in the CLV horizon
	CLV                   float64 `json:"clv"`                     // discounted expected value over the horizon
	Active                bool    `json:"active"`                  // frequency > 0
}

// Value returns the metric called name (the rule variable name) as a
// float64; booleans are 0 or 1. ok is false for an unknown name.
func (m *Metrics) Value(name string) (v float64, ok bool) {
	vr := variableByName(name)
	if vr == nil || !vr.metric {
		return 0, false
	}
	x := evalCtx{m: *m}
	return vr.num(&x), true
}

// MetricNames lists the metric names Value accepts, in a fixed order.
func MetricNames() []string {
	var names []string
	for _, v := range variables {
		if v.metric {
			names = append(names, v.name)
		}
	}
	return names
}

// dayNumber is the UTC day of t, days since the Unix epoch.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// wholeDays is floor((now - since) / Day), at least 0; NeverDays for a
// zero since.
func wholeDays(now, since time.Time) int64 {
	if since.IsZero() {
		return NeverDays
	}
	d := now.Sub(since)
	if d <= 0 {
		return 0
	}
	return min(int64(d/Day), NeverDays)
}

// windowCutoff returns the first bucket start day that still counts on day
// today. A purchase on day d belongs to the window while its age today - d
// is at most window_days; a bucket counts while its last day D +
// bucket_days - 1 does, i.e. while D + bucket_days > today - window_days,
// so a purchase counts up to bucket_days - 1 days longer than exact.
func (e *Engine) windowCutoff(today int64) int64 {
	return today - int64(e.cfg.WindowDays) - int64(e.cfg.BucketDays) + 1
}

// computeMetrics fills x.m from the customer; model metrics are filled by
// the churn step.
func (e *Engine) computeMetrics(x *evalCtx) {
	c := x.c
	m := &x.m
	major := float64(e.cfg.MinorPerMajor)
	cutoff := e.windowCutoff(dayNumber(x.now))
	x.oldestBucket = math.MaxInt64
	for _, b := range c.Window {
		if b.Day < cutoff {
			continue
		}
		m.Frequency += b.Count
		m.Monetary += float64(b.Money)
		m.Margin += float64(b.Margin)
		x.oldestBucket = min(x.oldestBucket, b.Day)
	}
	m.Monetary /= major
	m.Margin /= major
	m.Profit = m.Margin - e.cfg.CostToServe*float64(m.Frequency)
	m.Active = m.Frequency > 0

	m.RecencyDays = wholeDays(x.now, c.LastPurchase)
	switch {
	case !c.FirstPurchase.IsZero():
		m.TenureDays = wholeDays(x.now, c.FirstPurchase)
	case !c.FirstSeen.IsZero():
		m.TenureDays = wholeDays(x.now, c.FirstSeen)
	}
	m.LifetimeMoney = float64(c.Money) / major
	m.LifetimeMargin = float64(c.Margin) / major
	m.LifetimePurchases = c.Purchases
	m.Refunds = c.Refunds
	if c.Purchases > 0 {
		m.AvgOrderValue = m.LifetimeMoney / float64(c.Purchases)
		m.RefundRate = min(1, float64(c.Refunds)/float64(c.Purchases))
	}
	for sev, n := range c.OpenBySeverity {
		if n > 0 {
			m.OpenComplaints += n
			m.OpenComplaintSeverity = int64(sev)
		}
	}
	m.Complaints = c.Complaints
	m.Contacts = c.Contacts
	m.ContactsSincePurchase = c.ContactsSinceLastPurchase
	m.Responses = c.Responses
	if c.Contacts > 0 {
		m.ResponseRate = min(1, float64(c.Responses)/float64(c.Contacts))
	}
	m.DaysSinceContact = wholeDays(x.now, c.LastContact)
}
