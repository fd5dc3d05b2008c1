package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// CauseKind says what triggered an output event.
type CauseKind string

// Cause kinds.
const (
	CauseEvent CauseKind = "event" // an input event, named by Cause.EventID
	CauseTime  CauseKind = "time"  // the passage of time (a sweep), no new event
)

// Cause is what triggered an output event. JSON: {"kind":"event","event_id":"e-1"}
// or {"kind":"time"}.
type Cause struct {
	Kind    CauseKind `json:"kind"`
	EventID string    `json:"event_id,omitempty"` // the input event's id when Kind is CauseEvent
}

// Score is a named score that decided a segment, e.g. {"r", 4} or
// {"score.retention", 73.5}.
type Score struct {
	Name  string
	Value float64
}

// Metric is a named metric that decided a segment, e.g. {"recency_days", 12}.
type Metric struct {
	Name  string
	Value float64
}

// Money is an exact amount: Minor units of 10^-MinorUnits Currency.
// In JSON it is a decimal string with MinorUnits places ("123.45") and a
// separate "currency" field.
type Money struct {
	Minor      int64
	MinorUnits int
	Currency   string // ISO 4217
}

// String returns the amount and currency, e.g. "123.45 USD".
func (m Money) String() string {
	return FormatMoney(m.Minor, m.MinorUnits) + " " + m.Currency
}

// SegmentChange is published to customer.segment-changes when a customer
// moves from one segment to another in a segmentation (or gets its first
// segment). Key: the customer id. JSON:
//
//	{"id":"3f2a…","customer_id":"c-42","segmentation":"rfm","from":"loyal","to":"at_risk",
//	 "cause":{"kind":"time"},"event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:01.5Z",
//	 "sequence":7,"holdout":false,"config_version":"v3",
//	 "scores":{"r":1,"f":4,"m":4},"metrics":{"recency_days":95,"frequency":6}}
//
// From "" (the first assignment) is null; a zero time is null; scores and
// metrics are objects keyed by name, in slice order.
type SegmentChange struct {
	ID            string // deterministic, from OutputID
	CustomerID    string
	Segmentation  string
	From          string // "" on the first assignment
	To            string
	Cause         Cause
	EventTime     time.Time // time of the causing event, or of the sweep for CauseTime
	Time          time.Time // when the change was computed
	Sequence      int64     // per-customer transition counter
	Holdout       bool      // the customer is in the segmentation's hold-out group
	ConfigVersion string    // version of the scoring configuration that decided it
	Scores        []Score
	Metrics       []Metric
}

// AppendJSON appends the JSON encoding of c to dst.
func (c *SegmentChange) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"customer_id":`...)
	dst = appendString(dst, c.CustomerID)
	dst = append(dst, `,"segmentation":`...)
	dst = appendString(dst, c.Segmentation)
	dst = append(dst, `,"from":`...)
	dst = appendNullString(dst, c.From)
	dst = append(dst, `,"to":`...)
	dst = appendString(dst, c.To)
	dst = appendCommon(dst, c.Cause, c.EventTime, c.Time, c.Sequence)
	dst = append(dst, `,"holdout":`...)
	dst = strconv.AppendBool(dst, c.Holdout)
	dst = append(dst, `,"config_version":`...)
	dst = appendString(dst, c.ConfigVersion)
	dst = append(dst, `,"scores":{`...)
	for i, s := range c.Scores {
		dst = appendNamed(dst, i, s.Name, s.Value)
	}
	dst = append(dst, `},"metrics":{`...)
	for i, m := range c.Metrics {
		dst = appendNamed(dst, i, m.Name, m.Value)
	}
	return append(dst, "}}"...)
}

// MarshalJSON returns c.AppendJSON(nil), so encoding/json produces the same
// shape (for values and pointers alike).
func (c SegmentChange) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// UnmarshalJSON decodes the JSON shape AppendJSON writes (for consumers and tests).
func (c *SegmentChange) UnmarshalJSON(b []byte) error {
	var v struct {
		ID            string          `json:"id"`
		CustomerID    string          `json:"customer_id"`
		Segmentation  string          `json:"segmentation"`
		From          *string         `json:"from"`
		To            string          `json:"to"`
		Cause         Cause           `json:"cause"`
		EventTime     time.Time       `json:"event_time"`
		Time          time.Time       `json:"time"`
		Sequence      int64           `json:"sequence"`
		Holdout       bool            `json:"holdout"`
		ConfigVersion string          `json:"config_version"`
		Scores        json.RawMessage `json:"scores"`
		Metrics       json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("events: segment change: %w", err)
	}
	scores, err := decodeNamed(v.Scores)
	if err != nil {
		return fmt.Errorf("events: segment change: scores: %w", err)
	}
	metrics, err := decodeNamed(v.Metrics)
	if err != nil {
		return fmt.Errorf("events: segment change: metrics: %w", err)
	}
	*c = SegmentChange{
		ID: v.ID, CustomerID: v.CustomerID, Segmentation: v.Segmentation,
		From: deref(v.From), To: v.To, Cause: v.Cause,
		EventTime: v.EventTime, Time: v.Time, Sequence: v.Sequence,
		Holdout: v.Holdout, ConfigVersion: v.ConfigVersion,
		Scores: scores,
	}
	if metrics != nil {
		c.Metrics = make([]Metric, len(metrics))
		for i, m := range metrics {
			c.Metrics[i] = Metric(m)
		}
	}
	return nil
}

// Churn-risk levels.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// ChurnRisk is published to customer.churn-risk when a customer's churn-risk
// level changes. Key: the customer id. JSON:
//
//	{"id":"9b1c…","customer_id":"c-42","from":"low","to":"high","p_alive":0.18,
//	 "expected_purchases":0.4,"horizon_days":365,"days_since_last_purchase":210.5,
//	 "clv":"123.45","currency":"USD","cause":{"kind":"time"},
//	 "event_time":"2024-05-01T00:00:00Z","time":"2024-05-01T00:00:02Z","sequence":8,
//	 "model_version":"bgnbd-2024-04-30"}
type ChurnRisk struct {
	ID                    string // deterministic, from OutputID
	CustomerID            string
	From                  string  // RiskLow, RiskMedium, RiskHigh; "" (null) on the first assessment
	To                    string  // RiskLow, RiskMedium, RiskHigh
	PAlive                float64 // probability the customer is still active, 0..1
	ExpectedPurchases     float64 // expected purchases within the horizon
	HorizonDays           int     // horizon of ExpectedPurchases and CLV, in days
	DaysSinceLastPurchase float64
	CLV                   Money // customer lifetime value in the base currency
	Cause                 Cause
	EventTime             time.Time
	Time                  time.Time
	Sequence              int64
	ModelVersion          string // fitted model version, or "heuristic"
}

// AppendJSON appends the JSON encoding of r to dst.
func (r *ChurnRisk) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, r.ID)
	dst = append(dst, `,"customer_id":`...)
	dst = appendString(dst, r.CustomerID)
	dst = append(dst, `,"from":`...)
	dst = appendNullString(dst, r.From)
	dst = append(dst, `,"to":`...)
	dst = appendString(dst, r.To)
	dst = append(dst, `,"p_alive":`...)
	dst = appendFloat(dst, r.PAlive)
	dst = append(dst, `,"expected_purchases":`...)
	dst = appendFloat(dst, r.ExpectedPurchases)
	dst = append(dst, `,"horizon_days":`...)
	dst = strconv.AppendInt(dst, int64(r.HorizonDays), 10)
	dst = append(dst, `,"days_since_last_purchase":`...)
	dst = appendFloat(dst, r.DaysSinceLastPurchase)
	dst = append(dst, `,"clv":`...)
	dst = appendMoney(dst, r.CLV)
	dst = appendCommon(dst, r.Cause, r.EventTime, r.Time, r.Sequence)
	dst = append(dst, `,"model_version":`...)
	dst = appendString(dst, r.ModelVersion)
	return append(dst, '}')
}

// MarshalJSON returns r.AppendJSON(nil), so encoding/json produces the same
// shape (for values and pointers alike).
func (r ChurnRisk) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// UnmarshalJSON decodes the JSON shape AppendJSON writes.
func (r *ChurnRisk) UnmarshalJSON(b []byte) error {
	var v struct {
		ID                    string    `json:"id"`
		CustomerID            string    `json:"customer_id"`
		From                  *string   `json:"from"`
		To                    string    `json:"to"`
		PAlive                *float64  `json:"p_alive"`
		ExpectedPurchases     *float64  `json:"expected_purchases"`
		HorizonDays           int       `json:"horizon_days"`
		DaysSinceLastPurchase *float64  `json:"days_since_last_purchase"`
		CLV                   string    `json:"clv"`
		Currency              string    `json:"currency"`
		Cause                 Cause     `json:"cause"`
		EventTime             time.Time `json:"event_time"`
		Time                  time.Time `json:"time"`
		Sequence              int64     `json:"sequence"`
		ModelVersion          string    `json:"model_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("events: churn risk: %w", err)
	}
	clv, err := parseMoney(v.CLV, v.Currency)
	if err != nil {
		return fmt.Errorf("events: churn risk: clv: %w", err)
	}
	*r = ChurnRisk{
		ID: v.ID, CustomerID: v.CustomerID, From: deref(v.From), To: v.To,
		PAlive: floatOrNaN(v.PAlive), ExpectedPurchases: floatOrNaN(v.ExpectedPurchases),
		HorizonDays: v.HorizonDays, DaysSinceLastPurchase: floatOrNaN(v.DaysSinceLastPurchase),
		CLV: clv, Cause: v.Cause, EventTime: v.EventTime, Time: v.Time,
		Sequence: v.Sequence, ModelVersion: v.ModelVersion,
	}
	return nil
}

// Recovery is published to customer.recovery when a complaint needs a
// recovery action, scaled by severity and customer value. Key: the customer
// id. JSON:
//
//	{"id":"c7d0…","customer_id":"c-42","complaint_id":"k-9","severity":"high",
//	 "value_tier":"high_performance","priority":"p1","compensation_limit":"50.00",
//	 "currency":"USD","cause":{"kind":"event","event_id":"e-77"},
//	 "event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:00.2Z","sequence":9}
type Recovery struct {
	ID                string // deterministic, from OutputID
	CustomerID        string
	ComplaintID       string
	Severity          Severity
	ValueTier         string // the customer's value category, e.g. high_performance
	Priority          string // from configuration, e.g. p1..p4
	CompensationLimit Money  // from configuration, in the base currency
	Cause             Cause
	EventTime         time.Time
	Time              time.Time
	Sequence          int64
}

// AppendJSON appends the JSON encoding of r to dst.
func (r *Recovery) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, r.ID)
	dst = append(dst, `,"customer_id":`...)
	dst = appendString(dst, r.CustomerID)
	dst = append(dst, `,"complaint_id":`...)
	dst = appendString(dst, r.ComplaintID)
	dst = append(dst, `,"severity":`...)
	dst = appendString(dst, r.Severity.String())
	dst = append(dst, `,"value_tier":`...)
	dst = appendString(dst, r.ValueTier)
	dst = append(dst, `,"priority":`...)
	dst = appendString(dst, r.Priority)
	dst = append(dst, `,"compensation_limit":`...)
	dst = appendMoney(dst, r.CompensationLimit)
	dst = appendCommon(dst, r.Cause, r.EventTime, r.Time, r.Sequence)
	return append(dst, '}')
}

// MarshalJSON returns r.AppendJSON(nil), so encoding/json produces the same
// shape (for values and pointers alike).
func (r Recovery) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// UnmarshalJSON decodes the JSON shape AppendJSON writes.
func (r *Recovery) UnmarshalJSON(b []byte) error {
	var v struct {
		ID                string    `json:"id"`
		CustomerID        string    `json:"customer_id"`
		ComplaintID       string    `json:"complaint_id"`
		Severity          string    `json:"severity"`
		ValueTier         string    `json:"value_tier"`
		Priority          string    `json:"priority"`
		CompensationLimit string    `json:"compensation_limit"`
		Currency          string    `json:"currency"`
		Cause             Cause     `json:"cause"`
		EventTime         time.Time `json:"event_time"`
		Time              time.Time `json:"time"`
		Sequence          int64     `json:"sequence"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("events: recovery: %w", err)
	}
	limit, err := parseMoney(v.CompensationLimit, v.Currency)
	if err != nil {
		return fmt.Errorf("events: recovery: compensation_limit: %w", err)
	}
	*r = Recovery{
		ID: v.ID, CustomerID: v.CustomerID, ComplaintID: v.ComplaintID,
		Severity: ParseSeverity(v.Severity), ValueTier: v.ValueTier, Priority: v.Priority,
		CompensationLimit: limit, Cause: v.Cause, EventTime: v.EventTime, Time: v.Time,
		Sequence: v.Sequence,
	}
	return nil
}

// appendCommon appends the cause, event_time, time and sequence fields.
func appendCommon(dst []byte, c Cause, eventTime, t time.Time, seq int64) []byte {
	dst = append(dst, `,"cause":{"kind":`...)
	dst = appendString(dst, string(c.Kind))
	if c.EventID != "" {
		dst = append(dst, `,"event_id":`...)
		dst = appendString(dst, c.EventID)
	}
	dst = append(dst, `},"event_time":`...)
	dst = appendTime(dst, eventTime)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, t)
	dst = append(dst, `,"sequence":`...)
	return strconv.AppendInt(dst, seq, 10)
}

// appendMoney appends m as its decimal string, then a "currency" field.
func appendMoney(dst []byte, m Money) []byte {
	dst = append(dst, '"')
	dst = AppendMoney(dst, m.Minor, m.MinorUnits)
	dst = append(dst, `","currency":`...)
	return appendString(dst, m.Currency)
}

// appendNullString appends s as a JSON string, or null if it is empty.
func appendNullString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, s)
}

func appendNamed(dst []byte, i int, name string, v float64) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = appendString(dst, name)
	dst = append(dst, ':')
	return appendFloat(dst, v)
}

// decodeNamed decodes a JSON object of numbers keeping its key order; null
// values (non-finite numbers on encoding) decode as NaN.
func decodeNamed(raw json.RawMessage) ([]Score, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object, got %s", truncate(raw))
	}
	var out []Score
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v *float64
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Score{Name: tok.(string), Value: floatOrNaN(v)})
	}
	if out == nil {
		out = []Score{}
	}
	return out, nil
}

// parseMoney parses a decimal string written by AppendMoney.
func parseMoney(s, currency string) (Money, error) {
	if s == "" {
		return Money{Currency: currency}, nil
	}
	d, ok := parseDecimal([]byte(s))
	if !ok || len(s) > maxDecimalLen {
		return Money{}, fmt.Errorf("%q is not a decimal", s)
	}
	places := 0
	if i := bytes.IndexByte([]byte(s), '.'); i >= 0 {
		places = len(s) - i - 1
	}
	n, res := toMinor(&d, nil, places)
	if res != moneyOK {
		return Money{}, fmt.Errorf("%q is out of range", s)
	}
	return Money{Minor: n, MinorUnits: places, Currency: currency}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func floatOrNaN(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}

// OutputID returns the deterministic id of an output event: the hex encoding
// of the first 16 bytes of SHA-256 over the parts, each prefixed with its
// length as a uvarint, so ("a", "bc") and ("ab", "c") differ.
//
// The processor calls it with (customer id, stream name, sequence, to-value),
// for example OutputID("c-42", "segment-changes", "7", "at_risk"), where the
// sequence is the customer's transition counter stored with the state. A
// publish retried after a crash recomputes the same parts and so repeats the
// same id, which lets consumers drop duplicates.
func OutputID(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	var stack [256]byte
	buf := stack[:0]
	if n > len(stack) {
		buf = make([]byte, 0, n)
	}
	for _, p := range parts {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
