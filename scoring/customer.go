package scoring

import "time"

// Customer is the per-customer state as the store keeps it and the scorer
// reads it. All money is in minor units of the base currency. Times are UTC;
// a zero time means "never".
type Customer struct {
	ID string

	FirstSeen     time.Time // earliest event time of any type
	LastEvent     time.Time // latest event time of any type
	FirstPurchase time.Time // earliest purchase (sale) time
	LastPurchase  time.Time // latest purchase (sale) time, by event time, not arrival

	Purchases    int64 // lifetime sales (refunds not counted)
	PurchaseDays int64 // distinct UTC days with a sale (BG/NBD frequency = PurchaseDays-1)
	Money        int64 // lifetime net money: sales minus refunds
	Margin       int64 // lifetime net margin: sales' margin minus refunds' margin
	Refunds      int64 // lifetime refund count
	RefundMoney  int64 // lifetime refunded money

	// Window holds the rolling-window buckets that have purchases, oldest
	// first. Bucket.Day is the first UTC day (days since the Unix epoch) of
	// the bucket; buckets are BucketDays wide as configured in the store.
	Window []Bucket

	Complaints     int64    // lifetime complaints opened
	OpenBySeverity [5]int64 // open complaints by events.Severity (index 1..4)
	LastComplaint  time.Time

	Contacts                  int64 // lifetime contacts
	ContactsSinceLastPurchase int64 // contacts with event time after LastPurchase
	Responses                 int64 // inbound contacts plus outbound ones with a response outcome
	LastContact               time.Time

	// Published is what was last published for this customer: segment per
	// segmentation name, and the churn-risk level under the key ChurnKey.
	Published map[string]string
	// Scores are the R, F, M and T scores of the last evaluation
	// (Result.Scores.Packed()); the scorer's hysteresis keeps a score while
	// the value stays near a quantile boundary. The store persists them with
	// the state; zero means "no previous scores".
	Scores [4]int8
	// Contrib is the customer's contribution to the population histograms
	// as of the last evaluation (Result.Contrib), kept by the store so the
	// processor can move the customer between bins when it changes.
	Contrib Contrib
	// Seq counts the transitions published for this customer; output event
	// ids derive from it, so a retried publish repeats the same id.
	Seq int64
}

// ChurnKey is the key of Customer.Published that holds the churn-risk level.
const ChurnKey = "churn"

// Bucket is one rolling-window bucket.
type Bucket struct {
	Day    int64 // first UTC day of the bucket, days since the Unix epoch
	Count  int64 // sales in the bucket
	Money  int64 // net money (sales minus refunds) in the bucket
	Margin int64 // net margin in the bucket
}
