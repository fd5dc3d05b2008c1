package scoring

import "time"

// NOTE: this file fixes the API the processor codes against. The bodies are
// filled in by the scoring implementation; signatures may only grow.

// Env is what an evaluation needs besides the customer: the population the
// quantile scores are relative to, and the fitted churn/value model.
type Env struct {
	Population *Population // nil: quantile-mode scores fall back to fixed thresholds
	Model      *Model      // nil: churn uses the recency heuristic, CLV the historical average
}

// Result is the outcome of one evaluation of one customer.
type Result struct {
	Metrics  Metrics
	Scores   Scores
	Profiles []ProfileScore // in configuration order
	Segments []Assignment   // one per segmentation, in configuration order
	Churn    Churn
	Holdout  bool
	// NextDue is the earliest time at which any score, segment or level of
	// this customer could change with no new event. Zero: never.
	NextDue time.Time
	// Contrib is the customer's contribution to the population histograms,
	// an opaque token; the store keeps it and the processor moves the
	// customer between histogram bins when it changes.
	Contrib Contrib
	// Err is the first error a rule raised at run time (for example an
	// integer division by zero); the rule counted as not matching.
	Err error
}

// Assignment is the segment a segmentation puts the customer in.
type Assignment struct {
	Segmentation string
	Segment      string
}

// ProfileScore is a weighted profile's score, 0..100.
type ProfileScore struct {
	Profile string
	Score   float64
}

// Churn is the churn risk and value estimate.
type Churn struct {
	Level             string  // low | medium | high
	PAlive            float64 // probability the customer is still active
	ExpectedPurchases float64 // expected purchases in the configured horizon
	CLV               float64 // discounted expected margin over the horizon, base-currency minor units
	Model             string  // model version, or "heuristic"
}
