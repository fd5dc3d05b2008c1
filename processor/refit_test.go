package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/shop"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
)

// TestRefitFromStore: the processor fits the churn and spend models from
// the customers in Redis under a lease, stores them, and every evaluation
// then uses them (the model version appears in churn-risk events).
func TestRefitFromStore(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(365 * 24 * time.Hour)
	h := newHarness(t, now)
	h.cfg.Model = processor.ModelConfig{RefitInterval: time.Hour, MinCustomers: 200}
	h.cfg.PopulationRefresh = 100 * time.Millisecond

	s, err := shop.New(shop.Config{Seed: 11, Customers: 1500, Start: start, End: now, IDPrefix: "refit-"})
	require.NoError(t, err)
	var msgs []kafka.Message
	for _, e := range s.Until(nil, now) {
		msgs = append(msgs, kafka.Message{Key: []byte(e.CustomerID), Value: e.AppendJSON(nil, 2, "USD")})
	}
	kafkatest.Produce(t, h.brokers, h.input(), msgs)
	t.Logf("%d events of %d customers", len(msgs), 1500)

	// no refit in the first run: its start-up fit would see however many
	// customers were applied by then
	off, on := false, true
	h.cfg.Model.Refit = &off
	stop := h.start(t)
	h.waitCaughtUp(t, 2*time.Minute)
	// fit the way the periodic job does, through the store
	m, err := processor.FitStore(context.Background(), h.store, h.engine, h.cfg.Model, now)
	require.NoError(t, err)
	t.Logf("fit: %d customers, r=%.3f alpha=%.2f a=%.3f b=%.3f LL=%.1f, gamma-gamma %v",
		m.N, m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B, m.LogLik, m.HasGG)
	require.Greater(t, m.N, 1000)
	require.Equal(t, 7*24*time.Hour, m.TimeUnit)
	for _, v := range []float64{m.BGNBD.R, m.BGNBD.Alpha, m.BGNBD.A, m.BGNBD.B} {
		require.Greater(t, v, 0.0)
	}
	require.True(t, m.HasGG, "the shop has enough repeat buyers for Gamma-Gamma")
	require.NoError(t, stop())

	// a restarted processor with no model fits one at start-up, under the
	// lease, and stores it
	h.cfg.Model.Refit = &on
	stop = h.start(t)
	var stored *scoring.Model
	testenv.Wait(t, time.Minute, func() bool {
		stored, err = h.store.LoadModel(context.Background())
		return err == nil && stored != nil
	})
	require.Equal(t, m.N, stored.N)
	require.InDelta(t, m.LogLik, stored.LogLik, 1e-6)
	require.NoError(t, stop())
}
