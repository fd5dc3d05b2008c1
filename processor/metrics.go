package processor

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clienting/clienting/scoring"
)

// Metrics are the processor's Prometheus metrics. Build them with
// NewMetrics; every metric is listed in the package documentation.
type Metrics struct {
	Events              *prometheus.CounterVec
	DecodeErrors        *prometheus.CounterVec
	BatchDuration       prometheus.Histogram
	BatchSize           prometheus.Histogram
	EndToEnd            prometheus.Histogram
	Lag                 *prometheus.GaugeVec
	RedisDuration       *prometheus.HistogramVec
	RedisErrors         *prometheus.CounterVec
	KafkaDuration       *prometheus.HistogramVec
	KafkaErrors         *prometheus.CounterVec
	Transitions         *prometheus.CounterVec
	Recoveries          *prometheus.CounterVec
	SweepCustomers      prometheus.Counter
	SweepDuration       prometheus.Histogram
	SweepBacklog        *prometheus.GaugeVec
	AssignedPartitions  prometheus.Gauge
	Rebalances          prometheus.Counter
	CacheHits           prometheus.Counter
	CacheMisses         prometheus.Counter
	CacheEvictions      prometheus.Counter
	CacheBytes          prometheus.Gauge
	FencedWrites        prometheus.Counter
	DedupeForgotten     prometheus.Counter
	StateRewinds        prometheus.Counter
	StateLost           *prometheus.GaugeVec
	Stalled             *prometheus.GaugeVec
	ModelAge            *prometheus.GaugeVec // no labels: absent until a model exists
	ModelLogLik         *prometheus.GaugeVec
	Segments            *prometheus.GaugeVec
	KPIRetention        *prometheus.GaugeVec
	KPIChurn            *prometheus.GaugeVec
	KPIActiveGrowth     *prometheus.GaugeVec
	KPIRevenueGrowth    *prometheus.GaugeVec
	KPIPareto           *prometheus.GaugeVec
	KPIActive           *prometheus.GaugeVec
	KPISegmentRetention *prometheus.GaugeVec
	ChurnRisk           *prometheus.GaugeVec
}

// setModel publishes the age and log-likelihood of the model in use.
func (m *Metrics) setModel(model *scoring.Model, now time.Time) {
	if model == nil {
		return
	}
	m.ModelAge.WithLabelValues().Set(now.Sub(model.FittedAt).Seconds())
	m.ModelLogLik.WithLabelValues().Set(model.LogLik)
}

// setKPIs publishes the KPIs; absent rates are removed.
func (m *Metrics) setKPIs(k *KPIs) {
	set := func(g *prometheus.GaugeVec, v *float64) {
		if v == nil {
			g.Reset()
			return
		}
		g.WithLabelValues().Set(*v)
	}
	set(m.KPIRetention, k.RetentionRate)
	set(m.KPIChurn, k.ChurnRate)
	set(m.KPIActiveGrowth, k.ActiveGrowthRate)
	set(m.KPIRevenueGrowth, k.RevenueGrowthRate)
	set(m.KPIPareto, k.ParetoShare)
	m.KPIActive.WithLabelValues("current").Set(float64(k.ActiveCurrent))
	m.KPIActive.WithLabelValues("previous").Set(float64(k.ActivePrevious))
	m.KPISegmentRetention.Reset()
	for seg, s := range k.Segments {
		if s.RetentionRate != nil && seg != "" {
			m.KPISegmentRetention.WithLabelValues(k.Segmentation, seg).Set(*s.RetentionRate)
		}
	}
}

// setSegments publishes the customers per segment; churn-risk levels go to
// their own gauge.
func (m *Metrics) setSegments(segs map[string]map[string]int64) {
	m.Segments.Reset()
	m.ChurnRisk.Reset()
	for name, counts := range segs {
		for seg, n := range counts {
			if name == scoring.ChurnKey {
				m.ChurnRisk.WithLabelValues(seg).Set(float64(n))
				continue
			}
			m.Segments.WithLabelValues(name, seg).Set(float64(n))
		}
	}
}

const namespace = "clienting"

// kpiGauge is a KPI gauge without labels, absent until first set.
func kpiGauge(name, help string) *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: name, Help: help + " Global figure, the same on every instance.",
	}, nil)
}

// latencyBuckets spans 100 µs to about 30 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2.5, 15)

// NewMetrics creates the processor's metrics and registers them with reg
// (nil: not registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_total",
			Help: "Input events by type and outcome (applied, redelivery, duplicate, dead_lettered).",
		}, []string{"type", "outcome"}),
		DecodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "decode_errors_total",
			Help: "Input messages rejected by the decoder, by reason; each went to the dead-letter topic.",
		}, []string{"reason"}),
		BatchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "batch_duration_seconds",
			Help:    "Time to process one batch: decode, apply, score, publish, record and commit.",
			Buckets: latencyBuckets,
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "batch_messages",
			Help:    "Messages per processed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		EndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "end_to_end_latency_seconds",
			Help:    "From the input message's Kafka timestamp to the acknowledged publish of the transitions it caused.",
			Buckets: latencyBuckets,
		}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "consumer_lag_messages",
			Help: "Messages between the partition's latest known high watermark and its committed offset, per assigned partition: it grows while the partition is stuck.",
		}, []string{"topic", "partition"}),
		RedisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "redis_duration_seconds",
			Help:    "Duration of Redis round trips by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		RedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "redis_errors_total",
			Help: "Failed Redis round trips by operation; each is retried with backoff.",
		}, []string{"op"}),
		KafkaDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "kafka_duration_seconds",
			Help:    "Duration of Kafka calls by operation (fetch, produce, commit).",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		KafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "kafka_errors_total",
			Help: "Failed Kafka calls by operation; each is retried with backoff.",
		}, []string{"op"}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "transitions_total",
			Help: "Published transitions by segmentation (churn for churn-risk levels), from and to.",
		}, []string{"segmentation", "from", "to"}),
		Recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "recovery_events_total",
			Help: "Published complaint-recovery events by priority.",
		}, []string{"priority"}),
		SweepCustomers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "sweep_customers_total",
			Help: "Customers re-evaluated by the time-driven sweep.",
		}),
		SweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "sweep_duration_seconds",
			Help:    "Duration of one sweep tick of one partition.",
			Buckets: latencyBuckets,
		}),
		SweepBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "sweep_backlog_customers",
			Help: "Customers past their due time and not yet re-evaluated, per assigned partition.",
		}, []string{"topic", "partition"}),
		AssignedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "assigned_partitions",
			Help: "Input partitions assigned to this instance.",
		}),
		Rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "rebalances_total",
			Help: "Consumer-group generations this instance joined.",
		}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_cache_hits_total",
			Help: "Customer states a batch found in its partition worker's cache.",
		}),
		CacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_cache_misses_total",
			Help: "Customer states a batch read from Redis (new customers included).",
		}),
		CacheEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_cache_evictions_total",
			Help: "Customer states dropped from a full cache (processor.cache_size), least recently used first.",
		}),
		CacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "state_cache_bytes",
			Help: "Estimated memory of the cached customer states of all partition workers.",
		}),
		FencedWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_fenced_writes_total",
			Help: "Batch writes refused because another writer (an owner that lost the partition, or the new one) wrote the partition or customer first.",
		}),
		DedupeForgotten: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "dedupe_forgotten_total",
			Help: "Event ids forgotten within dedupe.window because a customer had dedupe.max_ids more recent ones.",
		}),
		StateRewinds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_rewinds_total",
			Help: "Partitions read again from the Redis checkpoint because Redis lost writes that Kafka offsets had committed.",
		}),
		StateLost: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "state_lost_partitions",
			Help: "1 for a partition stopped because Redis lost state that the input topic no longer holds (processor.accept_state_loss lets it go on).",
		}, []string{"topic", "partition"}),
		Stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "partition_stalled_seconds",
			Help: "Seconds an assigned partition has had a backlog and no offset commit (0 while it keeps up).",
		}, []string{"topic", "partition"}),
		ModelAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "model_fit_age_seconds",
			Help: "Age of the churn and value model in use (absent until a model is fitted).",
		}, nil),
		ModelLogLik: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "model_log_likelihood",
			Help: "BG/NBD log-likelihood of the model in use at its fit.",
		}, nil),
		KPIRetention: kpiGauge("kpi_retention_ratio",
			"Customers active in both the previous and the current KPI period over those active in the previous one."),
		KPIChurn: kpiGauge("kpi_churn_ratio", "1 - kpi_retention_ratio."),
		KPIActiveGrowth: kpiGauge("kpi_active_customers_growth_ratio",
			"Active customers in the current KPI period over those in the previous one, minus 1."),
		KPIRevenueGrowth: kpiGauge("kpi_revenue_growth_ratio",
			"Net revenue in the current KPI period over that in the previous one, minus 1."),
		KPIPareto: kpiGauge("kpi_pareto_revenue_share_ratio",
			"Share of the rolling-window revenue made by the top 20 % of customers by that revenue."),
		KPIActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "kpi_active_customers",
			Help: "Customers with a purchase in the current or previous KPI period (global figure).",
		}, []string{"period"}),
		KPISegmentRetention: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "kpi_segment_retention_ratio",
			Help: "kpi_retention_ratio of the customers of one segment (global figure).",
		}, []string{"segmentation", "segment"}),
		Segments: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "segment_customers",
			Help: "Customers per segment of each segmentation, all partitions (every instance reports the global figure).",
		}, []string{"segmentation", "segment"}),
		ChurnRisk: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "churn_risk_customers",
			Help: "Customers per churn-risk level, all partitions (every instance reports the global figure).",
		}, []string{"level"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.Events, m.DecodeErrors, m.BatchDuration, m.BatchSize,
		m.EndToEnd, m.Lag, m.RedisDuration, m.RedisErrors, m.KafkaDuration, m.KafkaErrors, m.Transitions,
		m.Recoveries, m.SweepCustomers, m.SweepDuration, m.SweepBacklog, m.AssignedPartitions, m.Rebalances,
		m.CacheHits, m.CacheMisses, m.CacheEvictions, m.CacheBytes, m.FencedWrites, m.DedupeForgotten, m.StateRewinds, m.StateLost, m.Stalled, m.Segments, m.ChurnRisk, m.ModelAge, m.ModelLogLik,
		m.KPIRetention, m.KPIChurn, m.KPIActiveGrowth, m.KPIRevenueGrowth, m.KPIPareto, m.KPIActive, m.KPISegmentRetention} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: register metrics: %w", err)
		}
	}
	return m, nil
}
