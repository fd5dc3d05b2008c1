package processor

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/clienting/clienting/scoring"
)

// KPIConfig configures the business KPIs.
type KPIConfig struct {
	// Interval is how often one instance (holding a lease) recomputes the
	// KPIs from every customer. Default: 5m.
	Interval time.Duration `yaml:"interval"`
	// PeriodDays is the length of the current and the previous period the
	// KPIs compare, rounded to whole rolling-window buckets. Default: 28.
	PeriodDays int `yaml:"period_days"`
	// Segmentation breaks retention down by its segments (the segment each
	// customer was last published in). Default: rfm.
	Segmentation string `yaml:"segmentation"`
}

func (c *KPIConfig) setDefaults() {
	setDefault(&c.Interval, 5*time.Minute)
	setDefault(&c.PeriodDays, 28)
	setDefault(&c.Segmentation, "rfm")
}

func (c *KPIConfig) validate() []error {
	c.setDefaults()
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("kpi.interval: %s must be positive", c.Interval))
	}
	if c.PeriodDays < 1 {
		errs = append(errs, fmt.Errorf("kpi.period_days: %d must be at least 1", c.PeriodDays))
	}
	return errs
}

// KPIs are the business figures of the whole customer base. Rates are
// fractions (0.25 = 25 %); a rate whose denominator is zero is absent.
type KPIs struct {
	AsOf       time.Time `json:"as_of"`
	PeriodDays int       `json:"period_days"` // whole buckets
	Customers  int64     `json:"customers"`   // customers with any state

	// A customer is active in a period when it bought in it.
	ActiveCurrent  int64 `json:"active_current"`
	ActivePrevious int64 `json:"active_previous"`
	Retained       int64 `json:"retained"` // active in both periods

	RetentionRate     *float64 `json:"retention_rate"`      // retained / active_previous
	ChurnRate         *float64 `json:"churn_rate"`          // 1 - retention_rate
	ActiveGrowthRate  *float64 `json:"active_growth_rate"`  // active_current / active_previous - 1
	RevenueCurrent    int64    `json:"revenue_current"`     // net, minor units of the base currency
	RevenuePrevious   int64    `json:"revenue_previous"`    // net, minor units
	RevenueGrowthRate *float64 `json:"revenue_growth_rate"` // revenue_current / revenue_previous - 1

	// Pareto: over the customers with positive revenue in the rolling window.
	ParetoShare     *float64 `json:"pareto_share"`     // revenue share of the top 20 % of them
	ParetoCustomers int64    `json:"pareto_customers"` // fewest of them making 80 % of their revenue

	// Segments breaks retention down by the segment of Segmentation.
	Segmentation string                `json:"segmentation"`
	Segments     map[string]SegmentKPI `json:"segments"`
}

// SegmentKPI is the retention of one segment.
type SegmentKPI struct {
	Customers      int64    `json:"customers"`
	ActivePrevious int64    `json:"active_previous"`
	Retained       int64    `json:"retained"`
	RetentionRate  *float64 `json:"retention_rate"`
	RevenueCurrent int64    `json:"revenue_current"`
}

func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	v := float64(num) / float64(den)
	return &v
}

// kpiAccumulator builds KPIs from customers one at a time.
type kpiAccumulator struct {
	k          KPIs
	today      int64
	bucketDays int64
	windowDays int64
	periodDays int64
	window     []int64 // window revenue of customers with positive revenue
}

func newKPIAccumulator(now time.Time, cfg KPIConfig, bucketDays, windowDays int) *kpiAccumulator {
	bd := int64(bucketDays)
	period := max(int64(math.Round(float64(cfg.PeriodDays)/float64(bd))), 1) * bd
	return &kpiAccumulator{
		k: KPIs{AsOf: now, PeriodDays: int(period), Segmentation: cfg.Segmentation,
			Segments: map[string]SegmentKPI{}},
		today:      now.UTC().Unix() / 86400,
		bucketDays: bd,
		windowDays: int64(windowDays),
		periodDays: period,
	}
}

func (a *kpiAccumulator) add(c *scoring.Customer) {
	a.k.Customers++
	// periods are whole buckets: the current one ends with the bucket
	// holding today
	curStart := (a.today/a.bucketDays)*a.bucketDays + a.bucketDays - a.periodDays
	prevStart := curStart - a.periodDays
	var cur, prev bool
	var revCur, window int64
	for _, b := range c.Window {
		switch {
		case b.Day >= curStart && b.Day <= a.today:
			cur = cur || b.Count > 0
			revCur += b.Money
		case b.Day >= prevStart && b.Day < curStart:
			prev = prev || b.Count > 0
			a.k.RevenuePrevious += b.Money
		}
		if b.Day+a.bucketDays > a.today-a.windowDays && b.Day <= a.today {
			window += b.Money
		}
	}
	a.k.RevenueCurrent += revCur
	if window > 0 {
		a.window = append(a.window, window)
	}
	seg := a.k.Segments[c.Published[a.k.Segmentation]]
	seg.Customers++
	seg.RevenueCurrent += revCur
	if cur {
		a.k.ActiveCurrent++
	}
	if prev {
		a.k.ActivePrevious++
		seg.ActivePrevious++
		if cur {
			a.k.Retained++
			seg.Retained++
		}
	}
	a.k.Segments[c.Published[a.k.Segmentation]] = seg
}

func (a *kpiAccumulator) result() KPIs {
	k := a.k
	k.RetentionRate = ratio(k.Retained, k.ActivePrevious)
	if k.RetentionRate != nil {
		v := 1 - *k.RetentionRate
		k.ChurnRate = &v
	}
	if g := ratio(k.ActiveCurrent, k.ActivePrevious); g != nil {
		*g--
		k.ActiveGrowthRate = g
	}
	if g := ratio(k.RevenueCurrent, k.RevenuePrevious); g != nil && k.RevenuePrevious > 0 {
		*g--
		k.RevenueGrowthRate = g
	}
	// Pareto over the window revenues, largest first
	slices.SortFunc(a.window, func(x, y int64) int { return int(min(max(y-x, -1), 1)) })
	var total int64
	for _, v := range a.window {
		total += v
	}
	if n := len(a.window); n > 0 && total > 0 {
		top := int(math.Ceil(0.2 * float64(n)))
		var sum int64
		for _, v := range a.window[:top] {
			sum += v
		}
		k.ParetoShare = ratio(sum, total)
		sum = 0
		for i, v := range a.window {
			sum += v
			if float64(sum) >= 0.8*float64(total) {
				k.ParetoCustomers = int64(i + 1)
				break
			}
		}
	}
	for name, s := range k.Segments {
		s.RetentionRate = ratio(s.Retained, s.ActivePrevious)
		k.Segments[name] = s
	}
	return k
}

// ComputeKPIs reads every customer and computes the KPIs as of now.
func (p *Processor) ComputeKPIs(ctx context.Context, now time.Time) (KPIs, error) {
	sc := p.store.Config()
	acc := newKPIAccumulator(now, p.cfg.KPI, sc.BucketDays, sc.WindowDays)
	if err := p.store.EachCustomer(ctx, func(c *scoring.Customer) error {
		acc.add(c)
		return nil
	}); err != nil {
		return KPIs{}, err
	}
	return acc.result(), nil
}

// kpiLoop recomputes the KPIs every KPI.Interval, one instance at a time.
func (p *Processor) kpiLoop(ctx context.Context, holder string) {
	t := time.NewTicker(p.cfg.KPI.Interval)
	defer t.Stop()
	for {
		if err := p.maybeKPIs(ctx, holder); err != nil && ctx.Err() == nil {
			p.log.Warn("KPI computation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Processor) maybeKPIs(ctx context.Context, holder string) error {
	now := p.cfg.Now()
	var cur KPIs
	if ok, err := p.store.LoadKPIs(ctx, &cur); err != nil {
		return err
	} else if ok && now.Sub(cur.AsOf) < p.cfg.KPI.Interval*9/10 && !now.Before(cur.AsOf) {
		return nil
	}
	ok, err := p.store.AcquireLease(ctx, "kpis", holder, p.cfg.KPI.Interval)
	if err != nil || !ok {
		return err
	}
	start := time.Now()
	k, err := p.ComputeKPIs(ctx, now)
	if err != nil {
		return err
	}
	if err := p.store.SaveKPIs(ctx, k); err != nil {
		return err
	}
	p.log.Debug("KPIs computed", "customers", k.Customers, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
