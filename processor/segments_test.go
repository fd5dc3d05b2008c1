package processor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
)

// TestQuantileSegmentsAndWeightChange: a population of 100 heavy buyers
// and 900 one-time buyers lands in the expected segments in quantile mode;
// then a change of profile weights alone re-segments the expected
// customers, published as transitions carrying the new configuration
// version.
func TestQuantileSegmentsAndWeightChange(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	h.cfg.PopulationRefresh = 100 * time.Millisecond

	// configuration A: default scoring (quantile mode) plus a target
	// segmentation on a retention profile that favors recent buyers
	withTarget := func(weight float64) scoring.Config {
		cfg := scoring.DefaultConfig()
		cfg.Profiles = append(cfg.Profiles, scoring.Profile{Name: "target", Weights: map[string]float64{"recency": weight}})
		cfg.Segmentations = append(cfg.Segmentations, scoring.Segmentation{Name: "campaign", Default: "no",
			Rules: []scoring.Rule{{Segment: "yes", When: "score.target >= 50"}}})
		return cfg
	}
	cfgA := withTarget(1)
	engineA, err := scoring.NewEngine(cfgA)
	require.NoError(t, err)

	heavy := func(i int) string { return fmt.Sprintf("heavy-%03d", i) }
	light := func(i int) string { return fmt.Sprintf("light-%03d", i) }
	var msgs []kafka.Message
	add := func(e events.Event) {
		msgs = append(msgs, kafka.Message{Key: []byte(e.CustomerID), Value: e.AppendJSON(nil, 2, "USD")})
	}
	sale := func(id, cust string, at time.Time, cents int64) events.Event {
		return events.Event{ID: id, Type: events.TypePurchase, CustomerID: cust, Time: at,
			Purchase: events.Purchase{OrderID: id, Amount: cents, Currency: "USD"}}
	}
	for i := range 100 { // 12 purchases of 200.00, every 5 days, the last yesterday
		for k := range 12 {
			add(sale(fmt.Sprint("h", i, "-", k), heavy(i), now.Add(-time.Duration(1+5*k)*24*time.Hour), 20000))
		}
	}
	for i := range 900 { // one purchase of 20.00 some 200-300 days ago
		add(sale(fmt.Sprint("l", i), light(i), now.Add(-time.Duration(200+i%100)*24*time.Hour), 2000))
	}
	// touch: an outbound contact per customer, changing no purchase metric,
	// so that every customer is evaluated once more against the complete
	// population
	touch := func(round int) []kafka.Message {
		var out []kafka.Message
		for _, id := range append(ids(heavy, 100), ids(light, 900)...) {
			e := events.Event{ID: fmt.Sprint("touch-", round, "-", id), Type: events.TypeContact, CustomerID: id,
				Time: now.Add(-time.Hour), Contact: events.Contact{ContactID: "c", Channel: "email"}}
			out = append(out, kafka.Message{Key: []byte(id), Value: e.AppendJSON(nil, 2, "USD")})
		}
		return out
	}

	run := func(engine *scoring.Engine, batch []kafka.Message) {
		p, err := processor.New(h.cfg, h.store, h.dec, engine, nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		defer func() {
			cancel()
			require.NoError(t, <-done)
		}()
		kafkatest.Produce(t, h.brokers, h.input(), batch)
		h.waitCaughtUp(t, 2*time.Minute)
		// wait for a population refresh that sees all 1000 active customers
		testenv.Wait(t, 30*time.Second, func() bool {
			s := p.Snapshot()
			return s != nil && s.Populations.Population.Active() == 1000
		})
	}
	run(engineA, msgs)
	run(engineA, touch(1))

	latest := func() map[[2]string]events.SegmentChange {
		out := map[[2]string]events.SegmentChange{}
		for _, m := range kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.SegmentChanges) {
			var c events.SegmentChange
			require.NoError(t, json.Unmarshal(m.Value, &c))
			k := [2]string{c.CustomerID, c.Segmentation}
			if c.Sequence >= out[k].Sequence {
				out[k] = c
			}
		}
		return out
	}
	segs := latest()
	for i := range 100 {
		require.Equal(t, "champions", segs[[2]string{heavy(i), "rfm"}].To, "rfm of %s", heavy(i))
		require.Equal(t, "high_performance", segs[[2]string{heavy(i), "value"}].To, "value of %s", heavy(i))
		require.Equal(t, "top", segs[[2]string{heavy(i), "pareto"}].To, "pareto of %s", heavy(i))
		require.Equal(t, "yes", segs[[2]string{heavy(i), "campaign"}].To)
	}
	// one-time buyers have f = m = 1; recency is relative to the population:
	// the 200 most recent customers (the heavy buyers and the one-time buyers
	// of about 200 days ago) are the top recency quintile
	for i := range 900 {
		rfm := segs[[2]string{light(i), "rfm"}].To
		require.Contains(t, []string{"new", "about_to_sleep", "hibernating", "lost"}, rfm, "rfm of %s", light(i))
		switch age := 200 + i%100; {
		case age < 220:
			require.Equal(t, "new", rfm, "rfm of %s, %d days since the purchase", light(i), age)
		case age >= 290:
			require.Equal(t, "lost", rfm, "rfm of %s, %d days since the purchase", light(i), age)
			require.Equal(t, "no", segs[[2]string{light(i), "campaign"}].To, "r = 1: score.target = 0")
		}
		require.Equal(t, "rest", segs[[2]string{light(i), "pareto"}].To, "pareto of %s", light(i))
	}

	// configuration B: only the weight changes sign; recent buyers now score low
	engineB, err := scoring.NewEngine(withTarget(-1))
	require.NoError(t, err)
	require.NotEqual(t, engineA.Version(), engineB.Version())
	run(engineB, touch(2))
	segs = latest()
	for i := range 100 {
		c := segs[[2]string{heavy(i), "campaign"}]
		require.Equal(t, "no", c.To, "campaign of %s under B", heavy(i))
		require.Equal(t, "yes", c.From)
		require.Equal(t, engineB.Version(), c.ConfigVersion)
		require.Equal(t, "champions", segs[[2]string{heavy(i), "rfm"}].To, "rfm does not depend on the weights")
	}
	for i := range 900 {
		if 200+i%100 < 290 {
			continue // r depends on where the quintile boundaries fall
		}
		c := segs[[2]string{light(i), "campaign"}]
		require.Equal(t, "yes", c.To, "campaign of %s under B: r = 1, score.target = 100", light(i))
		require.Equal(t, "no", c.From)
		require.Equal(t, engineB.Version(), c.ConfigVersion)
	}
}

func ids(name func(int) string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name(i)
	}
	return out
}
