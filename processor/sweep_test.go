package processor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/scoring/clv"
)

// TestChurnBySweep: with a fitted model, a customer who stops buying gets a
// churn-risk transition from the sweep, with no new event, within one sweep
// interval of the moment P(alive) crosses the threshold. The clock is
// injected: the test moves it to the crossing instead of waiting for it.
func TestChurnBySweep(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.Add(time.Hour).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	h := newHarness(t, t0)
	h.cfg.Now = now
	h.cfg.SweepInterval = 300 * time.Millisecond
	h.cfg.PopulationRefresh = 100 * time.Millisecond

	// the CDNOW parameters of Fader, Hardie & Lee (2005), in weeks
	model := &scoring.Model{Value: scoring.ValueMoney, Params: clv.Params{
		BGNBD:      clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		GammaGamma: clv.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}, HasGG: true,
		TimeUnit: 7 * 24 * time.Hour, FittedAt: t0, N: 2357, LogLik: -9582.4, Version: "cdnow-test",
	}}
	require.NoError(t, h.store.SaveModel(context.Background(), model))

	// a regular buyer: six purchases, two weeks apart, the last at t0
	cust := "sweep {regular} ü"
	var msgs []kafka.Message
	for i := range 6 {
		e := events.Event{ID: fmt.Sprint("sweep-", i), Type: events.TypePurchase, CustomerID: cust,
			Time:     t0.Add(-time.Duration(5-i) * 14 * 24 * time.Hour),
			Purchase: events.Purchase{OrderID: fmt.Sprint("o", i), Amount: 4000, Currency: "USD"}}
		msgs = append(msgs, kafka.Message{Key: []byte(cust), Value: e.AppendJSON(nil, 2, "USD")})
	}
	// the processor must use the model from its first batch on
	stop := h.start(t)
	testenv.Wait(t, time.Minute, func() bool {
		m, err := h.store.LoadModel(context.Background())
		return err == nil && m != nil
	})
	time.Sleep(3 * h.cfg.PopulationRefresh) // let a refresh hand the model to the workers
	kafkatest.Produce(t, h.brokers, h.input(), msgs)
	h.waitCaughtUp(t, time.Minute)

	churn := func() []events.ChurnRisk {
		var out []events.ChurnRisk
		for _, m := range kafkatest.ReadAll(t, h.brokers, h.cfg.Topics.ChurnRisk) {
			var c events.ChurnRisk
			require.NoError(t, json.Unmarshal(m.Value, &c))
			out = append(out, c)
		}
		return out
	}
	testenv.Wait(t, 30*time.Second, func() bool { return len(churn()) > 0 })
	first := churn()
	require.Len(t, first, 1)
	require.Equal(t, events.RiskLow, first[0].To)
	// a one-time buyer has P(alive) = 1 under BG/NBD: the first assessment
	// comes from the heuristic, the later ones from the model
	require.Equal(t, events.CauseEvent, first[0].Cause.Kind)

	// find, with the engine, the first minute at which the level leaves low
	loaded, err := h.store.Load(context.Background(), []string{cust})
	require.NoError(t, err)
	c := loaded[0].State.Customer
	env := scoring.Env{Model: model}
	level := func(at time.Time) string { return h.engine.Evaluate(&c, env, at).Churn.Level }
	lo, hi := now(), now().Add(2*365*24*time.Hour)
	require.Equal(t, events.RiskLow, level(lo))
	require.NotEqual(t, events.RiskLow, level(hi), "P(alive) must fall with inactivity")
	for hi.Sub(lo) > time.Minute {
		mid := lo.Add(hi.Sub(lo) / 2)
		if level(mid) == events.RiskLow {
			lo = mid
		} else {
			hi = mid
		}
	}
	crossing := hi
	t.Logf("P(alive) of %q crosses into %s at %s (%.1f days after the last purchase)",
		cust, level(crossing), crossing, crossing.Sub(t0).Hours()/24)

	// just before the crossing: nothing new
	clock.Store(crossing.Add(-2 * time.Minute).UnixNano())
	time.Sleep(3 * h.cfg.SweepInterval)
	require.Len(t, churn(), 1, "no churn transition before the crossing")

	// at the crossing, the next sweep publishes the transition
	clock.Store(crossing.UnixNano())
	moved := time.Now()
	testenv.Wait(t, 10*h.cfg.SweepInterval, func() bool { return len(churn()) == 2 })
	t.Logf("published %s after the clock reached the crossing (sweep interval %s)",
		time.Since(moved).Round(time.Millisecond), h.cfg.SweepInterval)
	got := churn()[1]
	require.Equal(t, events.CauseTime, got.Cause.Kind)
	require.Equal(t, events.RiskLow, got.From)
	require.Equal(t, level(crossing), got.To)
	require.Equal(t, "cdnow-test", got.ModelVersion)
	require.False(t, got.Time.Before(crossing))
	require.Less(t, got.PAlive, 0.5)
	require.NoError(t, stop())
}
