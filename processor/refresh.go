package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// Snapshot is the population view an instance last read: what the scores
// of quantile mode are relative to, and the customers per segment.
type Snapshot struct {
	Populations *state.Populations
	Model       *scoring.Model
	ReadAt      time.Time
}

// Snapshot returns the last population view (nil before the first read).
func (p *Processor) Snapshot() *Snapshot { return p.snap.Load() }

// refreshLoop reads the merged population histograms, segment counts and
// the current model every PopulationRefresh and hands them to evaluations.
func (p *Processor) refreshLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.PopulationRefresh)
	defer t.Stop()
	for {
		if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("population refresh failed; keeping the previous one", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the population of every partition of the input topics now.
func (p *Processor) Refresh(ctx context.Context) error {
	md, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: p.cfg.Topics.Input})
	if err != nil {
		p.metrics.KafkaErrors.WithLabelValues("metadata").Inc()
		return fmt.Errorf("metadata: %w", err)
	}
	parts := map[string][]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("metadata of %s: %w", t.Name, t.Error)
		}
		for _, pt := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], pt.ID)
		}
	}
	now := p.cfg.Now()
	start := time.Now()
	pops, err := p.store.ReadPopulations(ctx, parts, now)
	p.metrics.RedisDuration.WithLabelValues("populations").Observe(time.Since(start).Seconds())
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("populations").Inc()
		return err
	}
	model, err := p.store.LoadModel(ctx)
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("model").Inc()
		return err
	}
	env := *p.env.Load()
	env.Population = pops.Population
	if model != nil && (env.Model == nil || env.Model.Version != model.Version) {
		p.log.Info("using model", "version", model.Version, "fitted_at", model.FittedAt, "customers", model.N)
		env.Model = model
	}
	p.metrics.setModel(env.Model, now)
	var kpis KPIs
	if ok, err := p.store.LoadKPIs(ctx, &kpis); err != nil {
		return err
	} else if ok {
		p.metrics.setKPIs(&kpis)
		p.kpis.Store(&kpis)
	}
	p.env.Store(&env)
	p.snap.Store(&Snapshot{Populations: pops, Model: env.Model, ReadAt: now})
	p.metrics.setSegments(pops.Segments)
	return nil
}
