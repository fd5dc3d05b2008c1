package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topics names the topics the processor reads and writes.
type Topics struct {
	// Input topics carry purchase, complaint and contact events keyed by
	// customer id. Default: [customer.events].
	Input []string `yaml:"input"`
	// SegmentChanges receives segment transitions. Default: customer.segment-changes.
	SegmentChanges string `yaml:"segment_changes"`
	// ChurnRisk receives churn-risk level transitions. Default: customer.churn-risk.
	ChurnRisk string `yaml:"churn_risk"`
	// Recovery receives complaint-recovery events. Default: customer.recovery.
	Recovery string `yaml:"recovery"`
	// DeadLetterSuffix is appended to an input topic's name to name its
	// dead-letter topic. Default: .dlq.
	DeadLetterSuffix string `yaml:"dead_letter_suffix"`
}

// Config configures a Processor. Kafka security (TLS, SASL) comes in
// through Transport and Dialer, built by the caller.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string `yaml:"brokers"`
	// GroupID is the consumer group. Default: clienting.
	GroupID string `yaml:"group_id"`
	Topics  Topics `yaml:"topics"`

	// BatchSize caps the messages processed (and committed) together.
	// Default: 1000.
	BatchSize int `yaml:"batch_size"`
	// FetchMaxBytes caps one fetch from a partition. Default: 4 MiB.
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// FetchMaxWait is how long a fetch waits for new messages. Default: 250ms.
	FetchMaxWait time.Duration `yaml:"fetch_max_wait"`
	// ProduceBatchTimeout is how long the writer waits for more messages
	// for an output partition before it sends a produce request. A batch's
	// messages for a partition always go in one request; the wait only lets
	// the workers' batches share requests, and every worker's publish
	// waits for it. Default: 100µs.
	ProduceBatchTimeout time.Duration `yaml:"produce_batch_timeout"`

	// SweepInterval is how often each partition worker re-evaluates the
	// customers that became due with no new event. Default: 10s.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// PopulationRefresh is how often the population histograms and segment
	// counts of all partitions are read and merged. Default: 5s.
	PopulationRefresh time.Duration `yaml:"population_refresh"`
	// StallTimeout is how long a partition may have a backlog and no
	// offset commit before the processor is not ready (/readyz names it).
	// Default: 2m.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// SweepLimit caps the customers one sweep tick re-evaluates per
	// partition, so sweeps never starve event processing. Default: 2000.
	SweepLimit int `yaml:"sweep_limit"`

	// RetryMin and RetryMax bound the exponential backoff of retried calls
	// to Redis and Kafka. Defaults: 50ms and 5s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// ShutdownTimeout bounds how long shutdown waits for in-flight batches
	// to finish and commit. Default: 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// SessionTimeout is the consumer-group session timeout. Default: 30s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// HeartbeatInterval is the consumer-group heartbeat. Default: 3s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// RebalanceTimeout is how long the group waits for members to rejoin.
	// Default: 30s.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// StartOffset is where a partition with no committed offset starts:
	// "earliest" or "latest". Default: earliest.
	StartOffset string `yaml:"start_offset"`

	// ResponseOutcomes are contact outcomes that count as a response of the
	// customer (inbound contacts always do). Default: [clicked, converted,
	// replied, responded, accepted].
	ResponseOutcomes []string `yaml:"response_outcomes"`

	// CacheSize caps the customer states each partition worker keeps in
	// memory between batches, encoded as in Redis (about 300 bytes each
	// with the overhead), least recently used first out; a batch reads
	// the states it misses from Redis. Default: 50000.
	CacheSize int `yaml:"cache_size"`
	// AcceptStateLoss lets a partition go on when Redis lost state that
	// the input topic no longer holds (see the package doc, "State loss"):
	// the partition resumes from Kafka's committed offset on what Redis
	// kept. Default: false: the partition stops and /readyz names it.
	AcceptStateLoss bool `yaml:"accept_state_loss"`

	// Model configures the periodic refit of the churn and value model.
	Model ModelConfig `yaml:"model"`
	// KPI configures the business KPIs.
	KPI KPIConfig `yaml:"kpi"`

	// Transport carries TLS and SASL for produce and fetch. Default: plain.
	Transport *kafka.Transport `yaml:"-"`
	// Dialer carries TLS and SASL for the consumer group. Default: plain.
	Dialer *kafka.Dialer `yaml:"-"`
	// Now is the clock. Default: time.Now.
	Now func() time.Time `yaml:"-"`
	// Logger receives the processor's logs. Default: slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

func (c *Config) setDefaults() {
	if c.GroupID == "" {
		c.GroupID = "clienting"
	}
	if len(c.Topics.Input) == 0 {
		c.Topics.Input = []string{"customer.events"}
	}
	if c.Topics.SegmentChanges == "" {
		c.Topics.SegmentChanges = "customer.segment-changes"
	}
	if c.Topics.ChurnRisk == "" {
		c.Topics.ChurnRisk = "customer.churn-risk"
	}
	if c.Topics.Recovery == "" {
		c.Topics.Recovery = "customer.recovery"
	}
	if c.Topics.DeadLetterSuffix == "" {
		c.Topics.DeadLetterSuffix = ".dlq"
	}
	setDefault(&c.BatchSize, 1000)
	setDefault(&c.FetchMaxBytes, 4<<20)
	setDefault(&c.FetchMaxWait, 250*time.Millisecond)
	setDefault(&c.ProduceBatchTimeout, 100*time.Microsecond)
	setDefault(&c.SweepInterval, 10*time.Second)
	setDefault(&c.SweepLimit, 2000)
	setDefault(&c.CacheSize, 50000)
	setDefault(&c.StallTimeout, 2*time.Minute)
	setDefault(&c.PopulationRefresh, 5*time.Second)
	setDefault(&c.RetryMin, 50*time.Millisecond)
	setDefault(&c.RetryMax, 5*time.Second)
	setDefault(&c.ShutdownTimeout, 30*time.Second)
	setDefault(&c.SessionTimeout, 30*time.Second)
	setDefault(&c.HeartbeatInterval, 3*time.Second)
	setDefault(&c.RebalanceTimeout, 30*time.Second)
	if c.StartOffset == "" {
		c.StartOffset = "earliest"
	}
	if c.ResponseOutcomes == nil {
		c.ResponseOutcomes = []string{"clicked", "converted", "replied", "responded", "accepted"}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate applies defaults and checks the configuration; errors name the
// configuration key.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one broker is required"))
	}
	for i, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("kafka.brokers[%d]: %q must be host:port", i, b))
		}
	}
	seen := map[string]string{}
	check := func(key, topic string) {
		if topic == "" {
			errs = append(errs, fmt.Errorf("%s: must not be empty", key))
			return
		}
		if prev, ok := seen[topic]; ok {
			errs = append(errs, fmt.Errorf("%s: %q is already used by %s", key, topic, prev))
		}
		seen[topic] = key
	}
	for i, t := range c.Topics.Input {
		check(fmt.Sprintf("kafka.topics.input[%d]", i), t)
		check(fmt.Sprintf("kafka.topics.input[%d] (dead-letter)", i), t+c.Topics.DeadLetterSuffix)
	}
	check("kafka.topics.segment_changes", c.Topics.SegmentChanges)
	check("kafka.topics.churn_risk", c.Topics.ChurnRisk)
	check("kafka.topics.recovery", c.Topics.Recovery)
	positive := func(key string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s: %d must be positive", key, v))
		}
	}
	positive("processor.batch_size", c.BatchSize)
	positive("processor.fetch_max_bytes", c.FetchMaxBytes)
	positive("processor.sweep_limit", c.SweepLimit)
	positive("processor.cache_size", c.CacheSize)
	if c.CacheSize < max(c.BatchSize, c.SweepLimit) {
		errs = append(errs, fmt.Errorf("processor.cache_size: %d must be at least batch_size (%d) and sweep_limit (%d)", c.CacheSize, c.BatchSize, c.SweepLimit))
	}
	for key, d := range map[string]time.Duration{
		"processor.fetch_max_wait": c.FetchMaxWait, "processor.sweep_interval": c.SweepInterval,
		"processor.retry_min": c.RetryMin, "processor.retry_max": c.RetryMax,
		"processor.shutdown_timeout": c.ShutdownTimeout, "kafka.session_timeout": c.SessionTimeout,
		"kafka.heartbeat_interval": c.HeartbeatInterval, "kafka.rebalance_timeout": c.RebalanceTimeout,
		"processor.produce_batch_timeout": c.ProduceBatchTimeout, "processor.population_refresh": c.PopulationRefresh,
		"processor.stall_timeout": c.StallTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s must be positive", key, d))
		}
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("processor.retry_max: %s must be at least retry_min (%s)", c.RetryMax, c.RetryMin))
	}
	if c.HeartbeatInterval*3 > c.SessionTimeout {
		errs = append(errs, fmt.Errorf("kafka.heartbeat_interval: %s must be at most a third of session_timeout (%s)", c.HeartbeatInterval, c.SessionTimeout))
	}
	errs = append(errs, c.Model.validate()...)
	errs = append(errs, c.KPI.validate()...)
	switch c.StartOffset {
	case "earliest", "latest":
	default:
		errs = append(errs, fmt.Errorf("kafka.start_offset: %q must be earliest or latest", c.StartOffset))
	}
	return errors.Join(errs...)
}

func (c *Config) startOffset() int64 {
	if c.StartOffset == "latest" {
		return kafka.LastOffset
	}
	return kafka.FirstOffset
}
