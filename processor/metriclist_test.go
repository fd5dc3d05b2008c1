package processor

import (
	"testing"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
)

// metricList reads the fields directly; it must list what Metrics.Value
// gives for the same names, in the documented order.
func TestMetricListMatchesValue(t *testing.T) {
	res := scoring.Result{Metrics: scoring.Metrics{
		RecencyDays: 3, Frequency: 5, Monetary: 7.5, TenureDays: 11, Margin: 13.25,
		OpenComplaints: 17, PAlive: 0.19, ExpectedPurchases: 2.3, CLV: 29.5,
		// fields not listed, set so that a wrong field would show
		Profit: 101, LifetimeMoney: 103, LifetimeMargin: 107, AvgOrderValue: 109,
	}}
	names := []string{"recency_days", "frequency", "monetary", "tenure_days", "margin",
		"open_complaints", "p_alive", "expected_purchases", "clv"}
	var want []events.Metric
	for _, n := range names {
		v, ok := res.Metrics.Value(n)
		if !ok {
			t.Fatalf("Metrics.Value(%q): unknown metric", n)
		}
		want = append(want, events.Metric{Name: n, Value: v})
	}
	got := (&worker{}).metricList(nil, &res)
	if len(got) != len(want) {
		t.Fatalf("metricList: %d metrics, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("metricList[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}
