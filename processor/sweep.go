package processor

import (
	"context"
	"time"

	"github.com/clienting/clienting/events"
)

// sweep re-evaluates the partition's customers whose due time has passed
// and publishes their transitions with cause "time".
func (w *worker) sweep(ctx context.Context) error {
	p := w.p
	start := time.Now()
	defer func() { p.metrics.SweepDuration.Observe(time.Since(start).Seconds()) }()
	now := p.cfg.Now()
	ids, err := p.store.Due(ctx, w.topic, w.partition, now, p.cfg.SweepLimit)
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("due").Inc()
		return err
	}
	if backlog, err := p.store.DueBacklog(ctx, w.topic, w.partition, now); err == nil {
		p.metrics.SweepBacklog.WithLabelValues(w.topic, w.partLabel).Set(float64(backlog))
	}
	if len(ids) == 0 {
		return nil
	}
	w.reset()
	for _, id := range ids {
		w.view(id)
	}
	if err := w.loadViews(ctx, w.offset); err != nil {
		return err
	}
	env := p.env.Load()
	cause := events.Cause{Kind: events.CauseTime}
	for _, id := range w.order {
		pend := w.pending[id]
		st := pend.st
		if st.Empty() {
			// no state (never written, or lost): off the index
			st.Due, pend.prevDue = time.Time{}, time.Unix(0, 1)
			continue
		}
		res := &w.res
		p.engine.EvaluateTo(res, &st.Customer, *env, now)
		w.transitions(pend, &st.Customer, res, cause, now, now)
		pend.observe(res)
		if !st.Due.IsZero() && !st.Due.After(now) {
			// never leave a customer due in the past: that would sweep it
			// on every tick (a zero due time removes it from the index)
			st.Due = now.Add(p.cfg.SweepInterval)
		}
	}
	p.metrics.SweepCustomers.Add(float64(len(ids)))
	// Sweeps use ctx: a sweep cut short is redone by the next tick, with
	// the same output ids.
	return w.write(ctx, w.offset, -1)
}
