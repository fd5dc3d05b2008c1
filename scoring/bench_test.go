package scoring

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkEvaluate(b *testing.B) {
	e := newEngine(b, nil)
	pop := population(b, e, uniformCustomers())
	steady := buy("bench", 7, sales(8, 300, 10, 4500, 1200)...)
	cases := []struct {
		name string
		c    *Customer
		env  Env
	}{
		{"heuristic/no population", steady, Env{}},
		{"heuristic/population", steady, Env{Population: pop}},
		{"model/population", steady, Env{Population: pop, Model: cdnowModel()}},
		{"prospect", &Customer{ID: "p", FirstSeen: t0.Add(-Day), Contacts: 2}, Env{Population: pop}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var r Result
			e.EvaluateTo(&r, tc.c, tc.env, t0)
			b.ReportAllocs()
			for b.Loop() {
				e.EvaluateTo(&r, tc.c, tc.env, t0)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
		})
	}
	b.Run("Evaluate/population", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Evaluate(steady, Env{Population: pop}, t0)
		}
	})
	b.Run("parallel/population", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var r Result
			for pb.Next() {
				e.EvaluateTo(&r, steady, Env{Population: pop}, t0)
			}
		})
	})
}

func ExampleEngine_Evaluate() {
	e, err := NewEngine(DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	c := &Customer{
		ID:            "c-42",
		FirstPurchase: now.Add(-400 * day),
		LastPurchase:  now.Add(-3 * day),
		Purchases:     12, PurchaseDays: 12,
		Money: 240000, Margin: 60000, // minor units: 2400.00 and 600.00
		Window: []Bucket{{Day: 20100, Count: 6, Money: 150000, Margin: 36000}},
	}
	// No population yet: quantile scores fall back to the thresholds; no
	// model yet: churn uses the recency heuristic.
	r := e.Evaluate(c, Env{}, now)
	fmt.Println("scores:", r.Scores.RFM(), "T", r.Scores.T)
	for _, s := range r.Segments {
		fmt.Printf("%s: %s\n", s.Segmentation, s.Segment)
	}
	fmt.Printf("churn: %s (p_alive %.2f, %s)\n", r.Churn.Level, r.Churn.PAlive, r.Churn.Model)
	fmt.Println("next due in", r.NextDue.Sub(now))
	fmt.Println("recovery:", e.Recovery(r, 4))
	// Output:
	// scores: 545 T 4
	// rfm: champions
	// value: high_performance
	// loyalty: gold
	// pareto: rest
	// churn: low (p_alive 1.00, heuristic)
	// next due in 672h0m0s
	// recovery: {p1 high_performance 5000}
}
