package processor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/scoring/clv"
	"github.com/clienting/clienting/state"
)

// ModelConfig configures the periodic refit of the churn and value model.
type ModelConfig struct {
	// Refit turns the periodic refit on. Default: true.
	Refit *bool `yaml:"refit"`
	// RefitInterval is how often one instance (holding a lease in Redis)
	// refits the model from all customers. Default: 24h.
	RefitInterval time.Duration `yaml:"refit_interval"`
	// TimeUnit is the model's time unit. Default: 168h (a week).
	TimeUnit time.Duration `yaml:"time_unit"`
	// MinCustomers is the fewest customers with a purchase a fit needs; with
	// fewer, the recency heuristic stays in use. Default: 200.
	MinCustomers int `yaml:"min_customers"`
	// Penalizer is an L2 penalty on the parameters (as lifetimes'
	// penalizer_coef). Default: 0.
	Penalizer float64 `yaml:"penalizer"`
	// LeaseTTL bounds how long a fit may hold the lease. Default: 30m.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

func (c *ModelConfig) setDefaults() {
	if c.Refit == nil {
		t := true
		c.Refit = &t
	}
	setDefault(&c.RefitInterval, 24*time.Hour)
	setDefault(&c.TimeUnit, 7*24*time.Hour)
	setDefault(&c.MinCustomers, 200)
	setDefault(&c.LeaseTTL, 30*time.Minute)
}

func (c *ModelConfig) validate() []error {
	c.setDefaults()
	var errs []error
	if c.RefitInterval <= 0 {
		errs = append(errs, fmt.Errorf("model.refit_interval: %s must be positive", c.RefitInterval))
	}
	if c.TimeUnit < time.Hour {
		errs = append(errs, fmt.Errorf("model.time_unit: %s must be at least 1h", c.TimeUnit))
	}
	if c.MinCustomers < 10 {
		errs = append(errs, fmt.Errorf("model.min_customers: %d must be at least 10", c.MinCustomers))
	}
	if !(c.Penalizer >= 0) {
		errs = append(errs, fmt.Errorf("model.penalizer: %g must be at least 0", c.Penalizer))
	}
	return errs
}

// FitStore fits the BG/NBD and Gamma-Gamma models to every customer with a
// purchase in the store, as of now. It does not save the result.
func FitStore(ctx context.Context, store *state.Store, engine *scoring.Engine, cfg ModelConfig, now time.Time) (*scoring.Model, error) {
	cfg.setDefaults()
	var data []clv.Summary
	err := store.EachCustomer(ctx, func(c *scoring.Customer) error {
		if c.FirstPurchase.IsZero() || c.FirstPurchase.After(now) {
			return nil
		}
		data = append(data, engine.Summary(c, now, cfg.TimeUnit))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(data) < cfg.MinCustomers {
		return nil, fmt.Errorf("model: fit: %d customers with purchases, need model.min_customers = %d: %w",
			len(data), cfg.MinCustomers, clv.ErrInsufficientData)
	}
	params, err := clv.Fit(data, clv.FitOptions{
		TimeUnit: cfg.TimeUnit, Now: now, Penalizer: cfg.Penalizer, MinCustomers: cfg.MinCustomers,
	})
	if err != nil {
		return nil, fmt.Errorf("model: fit %d customers: %w", len(data), err)
	}
	return &scoring.Model{Params: params, Value: engine.Config().CLV.Value}, nil
}

// leaseHolder names this process in leases.
func leaseHolder() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// fitLoop refits the model every RefitInterval, one instance at a time.
func (p *Processor) fitLoop(ctx context.Context, holder string) {
	if !*p.cfg.Model.Refit {
		return
	}
	check := time.NewTicker(min(p.cfg.Model.RefitInterval/4, 10*time.Minute))
	defer check.Stop()
	for {
		if err := p.maybeRefit(ctx, holder); err != nil && ctx.Err() == nil {
			if errors.Is(err, clv.ErrInsufficientData) {
				p.log.Info("model not refitted yet", "reason", err)
			} else {
				p.log.Warn("model refit failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-check.C:
		}
	}
}

// maybeRefit refits when the current model is older than RefitInterval (or
// missing) and this instance gets the lease.
func (p *Processor) maybeRefit(ctx context.Context, holder string) error {
	now := p.cfg.Now()
	cur, err := p.store.LoadModel(ctx)
	if err != nil {
		return err
	}
	if cur != nil && now.Sub(cur.FittedAt) < p.cfg.Model.RefitInterval {
		return nil
	}
	ok, err := p.store.AcquireLease(ctx, "fit", holder, p.cfg.Model.LeaseTTL)
	if err != nil || !ok {
		return err
	}
	defer func() {
		if err := p.store.ReleaseLease(context.WithoutCancel(ctx), "fit", holder); err != nil {
			p.log.Warn("release fit lease", "err", err)
		}
	}()
	start := time.Now()
	m, err := FitStore(ctx, p.store, p.engine, p.cfg.Model, now)
	if err != nil {
		return err
	}
	if err := p.store.SaveModel(ctx, m); err != nil {
		return err
	}
	p.log.Info("model refitted", "version", m.Version, "customers", m.N, "loglik", m.LogLik,
		"r", m.BGNBD.R, "alpha", m.BGNBD.Alpha, "a", m.BGNBD.A, "b", m.BGNBD.B, "gamma_gamma", m.HasGG,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}
