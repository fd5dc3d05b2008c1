package clv

import (
	"cmp"
	"slices"
	"time"
)

// Transaction is one purchase (Amount >= 0) or refund (Amount < 0) of a
// customer, as read by ReadTransactions. Amounts are floats: they are
// model inputs; exact money lives elsewhere.
type Transaction struct {
	Customer string
	Time     time.Time
	Amount   float64
}

// CustomerSummary is a Summary with the customer it describes.
type CustomerSummary struct {
	Customer string
	Summary
}

// Summarize turns transactions into one Summary per customer, in the
// conventions of the buy-till-you-die literature (Fader, Hardie & Lee
// 2005) and of lifetimes' summary_data_from_transaction_data, measured in
// unit (for example 7*24*time.Hour for weeks):
//
//   - Time is counted in whole UTC calendar days. All transactions of a
//     customer on one day are one purchase whose value is the day's sum.
//   - Transactions after end are ignored. The observation ends on end's
//     UTC day: pass the last instant observed, for example
//     1997-09-30T00:00:00Z or 1997-09-30T23:59:59Z for a calibration
//     period ending on 30 September 1997.
//   - A day with only refunds (Amount < 0) is not a purchase and its
//     amounts are ignored; refunds on a purchase day reduce its value.
//   - X is the number of purchase days after the first, TX the time from
//     the first to the last purchase day, T the time from the first
//     purchase day to end's day, Mean the mean value of the repeat
//     purchase days (0 when X = 0), as lifetimes computes monetary_value
//     for the Gamma-Gamma model.
//   - Customers whose first purchase is after end have no summary.
//
// The summaries are sorted by customer; SummarizeCustomers returns the
// customers with them.
func Summarize(txs []Transaction, end time.Time, unit time.Duration) []Summary {
	cs := SummarizeCustomers(txs, end, unit)
	out := make([]Summary, len(cs))
	for i, c := range cs {
		out[i] = c.Summary
	}
	return out
}

// SummarizeCustomers is Summarize with each summary's customer, sorted by
// customer. unit must be positive.
func SummarizeCustomers(txs []Transaction, end time.Time, unit time.Duration) []CustomerSummary {
	type day struct {
		customer string
		day      int64
		amount   float64
		purchase bool // at least one transaction with Amount >= 0
	}
	endDay := dayNumber(end)
	days := make([]day, 0, len(txs))
	for _, tx := range txs {
		if tx.Time.After(end) {
			continue
		}
		days = append(days, day{customer: tx.Customer, day: dayNumber(tx.Time), amount: tx.Amount, purchase: tx.Amount >= 0})
	}
	slices.SortStableFunc(days, func(a, b day) int {
		return cmp.Or(cmp.Compare(a.customer, b.customer), cmp.Compare(a.day, b.day))
	})
	// Merge the transactions of one customer and day, dropping refund-only days.
	merged := days[:0]
	for _, d := range days {
		if n := len(merged); n > 0 && merged[n-1].customer == d.customer && merged[n-1].day == d.day {
			merged[n-1].amount += d.amount
			merged[n-1].purchase = merged[n-1].purchase || d.purchase
			continue
		}
		merged = append(merged, d)
	}
	perDay := float64(24*time.Hour) / float64(unit)
	var out []CustomerSummary
	for i := 0; i < len(merged); {
		j := i
		for j < len(merged) && merged[j].customer == merged[i].customer {
			j++
		}
		var first, last int64
		var n int
		var sum float64
		for _, d := range merged[i:j] {
			if !d.purchase {
				continue
			}
			if n == 0 {
				first = d.day
			} else {
				sum += d.amount
			}
			last = d.day
			n++
		}
		if n > 0 {
			s := Summary{
				X:  float64(n - 1),
				TX: float64(last-first) * perDay,
				T:  float64(endDay-first) * perDay,
			}
			if n > 1 {
				s.Mean = sum / float64(n-1)
			}
			out = append(out, CustomerSummary{Customer: merged[i].customer, Summary: s})
		}
		i = j
	}
	return out
}

// dayNumber returns the number of the UTC calendar day of t, counted from
// 1970-01-01.
func dayNumber(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}
