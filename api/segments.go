package api

import (
	"net/http"
	"time"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
)

// Segments is the body of GET /v1/segments: the population the instance
// last read (every processor.population_refresh), summed over all
// partitions.
type Segments struct {
	AsOf time.Time `json:"as_of"`
	// Segmentations counts customers by segmentation and segment, as last
	// published. Every segment the configuration can assign is present
	// (0 when empty).
	Segmentations map[string]map[string]int64 `json:"segmentations"`
	// ChurnRisk counts customers by churn-risk level as last published.
	ChurnRisk map[string]int64 `json:"churn_risk"`
	// ActiveCustomers are the customers with a purchase in the rolling
	// window: the population the quantile scores are relative to.
	ActiveCustomers int64 `json:"active_customers"`
	// Model is the churn and value model in use; null until one is fitted
	// (churn then uses the recency heuristic).
	Model *ModelInfo `json:"model"`
}

// ModelInfo describes the fitted churn and value model in use.
type ModelInfo struct {
	Version   string    `json:"version"`
	FittedAt  time.Time `json:"fitted_at"`
	Customers int       `json:"customers"` // customers in the fit
}

func (a *API) segments(w http.ResponseWriter, _ *http.Request) {
	snap := a.p.Snapshot()
	if snap == nil || snap.Populations == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable,
			"the population has not been read yet; the processor reads it every processor.population_refresh")
		return
	}
	out := Segments{
		AsOf:            snap.ReadAt.UTC(),
		Segmentations:   map[string]map[string]int64{},
		ChurnRisk:       map[string]int64{events.RiskLow: 0, events.RiskMedium: 0, events.RiskHigh: 0},
		ActiveCustomers: snap.Populations.Population.Active(),
	}
	for name, segs := range a.p.Engine().SegmentNames() {
		counts := make(map[string]int64, len(segs))
		for _, s := range segs {
			counts[s] = 0
		}
		out.Segmentations[name] = counts
	}
	for name, counts := range snap.Populations.Segments {
		dst := out.ChurnRisk
		if name != scoring.ChurnKey {
			if dst = out.Segmentations[name]; dst == nil {
				// a segmentation no longer configured still has customers
				dst = map[string]int64{}
				out.Segmentations[name] = dst
			}
		}
		for seg, n := range counts {
			dst[seg] += n
		}
	}
	if m := snap.Model; m != nil {
		out.Model = &ModelInfo{Version: m.Version, FittedAt: m.FittedAt.UTC(), Customers: m.N}
	}
	writeJSON(w, http.StatusOK, &out)
}

func (a *API) kpis(w http.ResponseWriter, _ *http.Request) {
	k := a.p.KPIs()
	if k == nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable,
			"KPIs have not been computed yet; one instance computes them every kpi.interval and every instance reads them every processor.population_refresh")
		return
	}
	out := *k
	if out.Segments == nil {
		out.Segments = map[string]processor.SegmentKPI{}
	}
	writeJSON(w, http.StatusOK, &out)
}
