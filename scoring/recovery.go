package scoring

import "math"

// Recovery is the response to a complaint: how urgently to handle it and
// how much compensation the agent may grant.
type Recovery struct {
	Priority          string // e.g. "p1" (most urgent) .. "p4", from recovery.priority
	ValueTier         string // the customer's segment in recovery.value_segmentation
	CompensationLimit int64  // minor units of the base currency
}

// Recovery decides the response to a complaint of the given severity (1
// low, 2 medium, 3 high, 4 critical; clamped to 1..4) from a customer whose
// evaluation is r. The value tier is r's segment in the value
// segmentation; the priority is recovery.priority[tier][severity-1]
// (default_priority for tiers not listed); the compensation limit is
// recovery.compensation[tier] (default_compensation) times
// severity_scale[severity-1], rounded down. With the defaults a critical
// complaint of a high_performance customer is p1 with a limit of 5000, a
// low one p3 with 1250.
func (e *Engine) Recovery(r Result, severity int) Recovery {
	sev := min(max(severity, 1), 4)
	cfg := &e.cfg.Recovery
	var tier string
	for _, a := range r.Segments {
		if a.Segmentation == cfg.ValueSegmentation {
			tier = a.Segment
			break
		}
	}
	prio, ok := cfg.Priority[tier]
	if !ok {
		prio = cfg.DefaultPriority
	}
	comp, ok := cfg.Compensation[tier]
	if !ok {
		comp = cfg.DefaultCompensation
	}
	limit := int64(math.Floor(float64(comp) * cfg.SeverityScale[sev-1]))
	return Recovery{Priority: prio[sev-1], ValueTier: tier, CompensationLimit: limit}
}
