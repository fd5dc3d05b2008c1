package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// storeTimeout bounds the Redis round trip of one request.
const storeTimeout = 5 * time.Second

// Customer is the body of GET /v1/customers/{id}.
type Customer struct {
	ID    string        `json:"id"`
	State CustomerState `json:"state"`
	// Metrics, Scores, Profiles and Segments are the evaluation as of
	// EvaluatedAt, with the population and model the processor uses now.
	Metrics  scoring.Metrics    `json:"metrics"`
	Scores   scoring.Scores     `json:"scores"`
	Profiles map[string]float64 `json:"profiles"` // profile name -> 0..100
	Segments map[string]string  `json:"segments"` // segmentation -> segment
	// Published is what was last published for the customer: segment per
	// segmentation, and the churn-risk level under "churn". A difference
	// from Segments is a transition the processor will publish at the
	// customer's next event or due time.
	Published map[string]string `json:"published"`
	Churn     Churn             `json:"churn"`
	Holdout   bool              `json:"holdout"`
	NextDue   *time.Time        `json:"next_due"` // null: no score can change without an event
	// RuleError is the first error a segmentation rule raised at run time
	// (the rule counted as not matching); null when none did.
	RuleError   *string   `json:"rule_error"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	Sequence    int64     `json:"sequence"` // transitions published for the customer
}

// CustomerState is the customer's stored state. Times are null when the
// thing never happened.
type CustomerState struct {
	FirstSeen                 *time.Time `json:"first_seen"`
	LastEvent                 *time.Time `json:"last_event"`
	FirstPurchase             *time.Time `json:"first_purchase"`
	LastPurchase              *time.Time `json:"last_purchase"`
	LastComplaint             *time.Time `json:"last_complaint"`
	LastContact               *time.Time `json:"last_contact"`
	Purchases                 int64      `json:"purchases"`
	PurchaseDays              int64      `json:"purchase_days"`
	Refunds                   int64      `json:"refunds"`
	Complaints                int64      `json:"complaints"`
	Contacts                  int64      `json:"contacts"`
	Responses                 int64      `json:"responses"`
	ContactsSinceLastPurchase int64      `json:"contacts_since_last_purchase"`
	Money                     string     `json:"money"`        // lifetime net: sales minus refunds
	Margin                    string     `json:"margin"`       // lifetime net margin
	RefundMoney               string     `json:"refund_money"` // lifetime refunded
	Currency                  string     `json:"currency"`
	// OpenComplaints counts open complaints by severity (low, medium,
	// high, critical).
	OpenComplaints map[string]int64 `json:"open_complaints"`
}

// Churn is the churn risk and value estimate as of the evaluation.
type Churn struct {
	Level             string  `json:"level"` // low | medium | high
	PAlive            float64 `json:"p_alive"`
	ExpectedPurchases float64 `json:"expected_purchases"`
	// CLV is the discounted expected value over the horizon, a decimal
	// string in Currency; null when it is not a finite number.
	CLV      *string `json:"clv"`
	Currency string  `json:"currency"`
	Model    string  `json:"model"` // model version, or "heuristic"
}

var severities = [...]events.Severity{events.SeverityLow, events.SeverityMedium, events.SeverityHigh, events.SeverityCritical}

// validateID checks a customer id as the events decoder does: 1..256
// bytes of UTF-8.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("customer id is empty")
	case len(id) > events.MaxIDBytes:
		return fmt.Errorf("customer id is %d bytes long; at most %d are allowed", len(id), events.MaxIDBytes)
	case !utf8.ValidString(id):
		return errors.New("customer id is not valid UTF-8")
	}
	return nil
}

func (a *API) customer(w http.ResponseWriter, r *http.Request) {
	// ServeMux has unescaped the rest of the escaped path once: %2F is a
	// slash inside the id, %20 a space.
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	loaded, err := a.p.Store().Load(ctx, []string{id})
	if err != nil {
		a.storeError(w, err)
		return
	}
	if len(loaded) != 1 || !loaded[0].Found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("customer %q not found", id))
		return
	}
	c := &loaded[0].State.Customer
	now := a.p.Now()
	res := a.p.Engine().Evaluate(c, a.p.Env(), now)
	writeJSON(w, http.StatusOK, a.customerBody(c, &res, now))
}

func (a *API) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, state.ErrUnavailable) {
		a.log.Warn("API: state store unavailable", "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "state store unavailable; retry later")
		return
	}
	a.log.Error("API: load customer", "err", err)
	writeError(w, http.StatusInternalServerError, "load customer: "+err.Error())
}

func (a *API) customerBody(c *scoring.Customer, res *scoring.Result, now time.Time) *Customer {
	out := &Customer{
		ID: c.ID,
		State: CustomerState{
			FirstSeen:                 optTime(c.FirstSeen),
			LastEvent:                 optTime(c.LastEvent),
			FirstPurchase:             optTime(c.FirstPurchase),
			LastPurchase:              optTime(c.LastPurchase),
			LastComplaint:             optTime(c.LastComplaint),
			LastContact:               optTime(c.LastContact),
			Purchases:                 c.Purchases,
			PurchaseDays:              c.PurchaseDays,
			Refunds:                   c.Refunds,
			Complaints:                c.Complaints,
			Contacts:                  c.Contacts,
			Responses:                 c.Responses,
			ContactsSinceLastPurchase: c.ContactsSinceLastPurchase,
			Money:                     a.money(c.Money),
			Margin:                    a.money(c.Margin),
			RefundMoney:               a.money(c.RefundMoney),
			Currency:                  a.currency.Code,
			OpenComplaints:            make(map[string]int64, len(severities)),
		},
		Metrics:   res.Metrics,
		Scores:    res.Scores,
		Profiles:  make(map[string]float64, len(res.Profiles)),
		Segments:  make(map[string]string, len(res.Segments)),
		Published: make(map[string]string, len(c.Published)),
		Churn: Churn{
			Level:             res.Churn.Level,
			PAlive:            res.Churn.PAlive,
			ExpectedPurchases: res.Churn.ExpectedPurchases,
			Currency:          a.currency.Code,
			Model:             res.Churn.Model,
		},
		Holdout:     res.Holdout,
		NextDue:     optTime(res.NextDue),
		EvaluatedAt: now.UTC(),
		Sequence:    c.Seq,
	}
	for _, s := range severities {
		out.State.OpenComplaints[s.String()] = c.OpenBySeverity[s]
	}
	for _, p := range res.Profiles {
		out.Profiles[p.Profile] = p.Score
	}
	for _, s := range res.Segments {
		out.Segments[s.Segmentation] = s.Segment
	}
	for k, v := range c.Published {
		out.Published[k] = v
	}
	if clv := res.Churn.CLV; !math.IsNaN(clv) && !math.IsInf(clv, 0) && math.Abs(clv) < math.MaxInt64/2 {
		s := a.money(int64(math.Round(clv)))
		out.Churn.CLV = &s
	}
	if res.Err != nil {
		s := res.Err.Error()
		out.RuleError = &s
	}
	return out
}

func (a *API) money(minor int64) string {
	return events.FormatMoney(minor, a.currency.MinorUnits)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
