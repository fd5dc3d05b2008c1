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
	loaded, err := p.store.Load(ctx, ids)
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("load").Inc()
		return err
	}
	w.reset()
	env := p.env.Load()
	cause := events.Cause{Kind: events.CauseTime}
	for i := range loaded {
		c := &loaded[i].Customer
		pend := w.pendingFor(c)
		if !loaded[i].Found {
			continue // due is zero: the record removes it from the index
		}
		res := &w.res
		p.engine.EvaluateTo(res, c, *env, now)
		w.transitions(pend, c, res, cause, now, now)
		pend.observe(res)
		if !pend.due.IsZero() && !pend.due.After(now) {
			// never leave a customer due in the past: that would sweep it
			// on every tick (a zero due time removes it from the index)
			pend.due = now.Add(p.cfg.SweepInterval)
		}
	}
	p.metrics.SweepCustomers.Add(float64(len(ids)))
	// Sweeps use ctx: a sweep cut short is redone by the next tick, with
	// the same output ids.
	return w.publishAndRecord(ctx, -1)
}
