package state_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/state"
)

// BenchmarkApplyScript applies purchases and contacts to customers that
// hold a realistic hash (a year of weekly purchases, published segments,
// scores) in batches of 100, and reports Redis's own time per script call
// (INFO commandstats, usec_per_call of evalsha): the figure that bounds
// events/s per Redis core. It needs the harness's Redis.
func BenchmarkApplyScript(b *testing.B) {
	s, rdb := newStore(b, state.Config{})
	ctx := context.Background()
	const customers = 1000
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	id := func(i int) string { return "bench-customer-" + strconv.Itoa(i) }
	// history: 20 purchases over 40 weeks and what the processor records
	var batch []state.Apply
	off := int64(0)
	for w := range 20 {
		batch = batch[:0]
		for i := range customers {
			off++
			e := sale(fmt.Sprintf("h%d-%d", w, i), id(i), start.Add(time.Duration(w*2*7*24)*time.Hour), 1000+int64(i))
			e.Purchase.Margin, e.Purchase.HasMargin = 300, true
			batch = append(batch, state.Apply{Event: e, Topic: "customer.events", Partition: 1, Offset: off})
		}
		if _, err := s.ApplyBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	var recs []state.Record
	for i := range customers {
		recs = append(recs, state.Record{CustomerID: id(i), Seq: 9,
			Published: map[string]string{"rfm": "potential_loyalist", "value": "high_performance", "lifecycle": "active",
				"loyalty": "gold", "churn": "low"}})
	}
	if err := s.RecordBatch(ctx, "customer.events", 1, recs); err != nil {
		b.Fatal(err)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	now := start.Add(300 * 24 * time.Hour)
	evs := make([]events.Event, 100)
	b.ResetTimer()
	for n := 0; n < b.N; n += len(evs) {
		batch = batch[:0]
		for j := range evs {
			i := (n + j) % customers
			off++
			e := &evs[j]
			*e = events.Event{ID: "b" + strconv.FormatInt(off, 10), CustomerID: id(i), Time: now.Add(time.Duration(off) * time.Second)}
			if j%3 == 2 {
				e.Type, e.Contact = events.TypeContact, events.Contact{ContactID: e.ID, Channel: "email"}
			} else {
				e.Type, e.Purchase = events.TypePurchase, events.Purchase{OrderID: e.ID, Amount: 2500, Currency: "USD", Margin: 400, HasMargin: true}
			}
			batch = append(batch, state.Apply{Event: e, Topic: "customer.events", Partition: 1, Offset: off})
		}
		if _, err := s.ApplyBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for kv := range strings.SplitSeq(strings.TrimSpace(rest), ",") {
				if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
					us, _ := strconv.ParseFloat(v, 64)
					b.ReportMetric(us, "redis-µs/call")
				}
			}
		}
	}
}
