package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// Processor consumes input events, applies them to the store, scores the
// customers and publishes their transitions. It is safe to run several
// processors (in one or several processes) in the same consumer group.
type Processor struct {
	cfg     Config
	store   *state.Store
	decoder *events.Decoder
	engine  *scoring.Engine
	metrics *Metrics
	log     *slog.Logger

	client *kafka.Client
	writer *kafka.Writer

	env       atomic.Pointer[scoring.Env]
	snap      atomic.Pointer[Snapshot]
	kpis      atomic.Pointer[KPIs]
	assigned  atomic.Int64
	responses map[string]bool

	mu      sync.Mutex
	running bool

	cacheMetrics cacheMetrics
	progressMu   sync.Mutex
	progress     map[string]*progress // the partitions being processed, by topic/partition
	lostMu       sync.Mutex
	lost         map[string]string // partitions stopped for lost state: reason by topic/partition
}

// New returns a Processor. It validates cfg and talks to no server.
func New(cfg Config, store *state.Store, dec *events.Decoder, engine *scoring.Engine, m *Metrics) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || dec == nil || engine == nil {
		return nil, errors.New("processor: store, decoder and engine are required")
	}
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	transport := cfg.Transport
	if transport == nil {
		// not kafka.DefaultTransport: its metadata cache is shared by every
		// client in the process
		transport = &kafka.Transport{}
	}
	p := &Processor{
		cfg:     cfg,
		store:   store,
		decoder: dec,
		engine:  engine,
		metrics: m,
		log:     cfg.Logger,
		client: &kafka.Client{
			Addr: kafka.TCP(cfg.Brokers...),
			// a request whose answer never comes (a connection that died
			// silently) fails and is retried instead of stalling its caller;
			// fetches add their FetchMaxWait (fetchClient)
			Timeout:   kafkaRequestTimeout,
			Transport: transport,
		},
		writer: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Balancer:     &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: cfg.ProduceBatchTimeout,
			// A produce request's message count. kafka-go allocates this
			// many messages for every partition batch it opens, so it is
			// one batch's worth (a batch's transitions to one partition
			// rarely exceed its events); more go in the next request.
			BatchSize:   cfg.BatchSize,
			BatchBytes:  1_000_000, // under the broker default message.max.bytes (1 MiB + 12)
			MaxAttempts: 1,         // the processor retries whole batches itself
			Transport:   transport,
		},
		responses: map[string]bool{},
	}
	for _, o := range cfg.ResponseOutcomes {
		p.responses[o] = true
	}
	p.cacheMetrics = cacheMetrics{
		hits: m.CacheHits.Add, misses: m.CacheMisses.Add, evictions: m.CacheEvictions.Add, bytes: m.CacheBytes.Add,
	}
	p.env.Store(&scoring.Env{})
	return p, nil
}

// KPIs returns the last KPIs read (nil before any were computed).
func (p *Processor) KPIs() *KPIs { return p.kpis.Load() }

// Env returns the population and model evaluations use now.
func (p *Processor) Env() scoring.Env { return *p.env.Load() }

// Store returns the processor's state store.
func (p *Processor) Store() *state.Store { return p.store }

// Engine returns the processor's scoring engine.
func (p *Processor) Engine() *scoring.Engine { return p.engine }

// Now returns the processor's clock reading.
func (p *Processor) Now() time.Time { return p.cfg.Now() }

// SetEnv replaces the population and model used by evaluations from now on.
func (p *Processor) SetEnv(env scoring.Env) { p.env.Store(&env) }

// Ready reports whether the processor has joined its group, owns at
// least one partition and stopped none for lost state (NotReady says why
// not).
func (p *Processor) Ready() bool { return p.NotReady() == "" }

// Run joins the consumer group and processes assigned partitions until ctx
// is canceled. On cancellation it finishes the batches in flight (within
// ShutdownTimeout), commits them and leaves the group. It returns nil after
// a clean shutdown.
func (p *Processor) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("processor: already running")
	}
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()

	dialer := p.cfg.Dialer
	if dialer == nil {
		dialer = kafka.DefaultDialer
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                p.cfg.GroupID,
		Brokers:           p.cfg.Brokers,
		Dialer:            dialer,
		Topics:            p.cfg.Topics.Input,
		HeartbeatInterval: p.cfg.HeartbeatInterval,
		SessionTimeout:    p.cfg.SessionTimeout,
		RebalanceTimeout:  p.cfg.RebalanceTimeout,
		JoinGroupBackoff:  p.cfg.RetryMax,
		StartOffset:       p.cfg.startOffset(),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			p.log.Warn("kafka consumer group: " + fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("processor: consumer group: %w", err)
	}
	defer func() {
		if err := p.writer.Close(); err != nil {
			p.log.Warn("close writer", "err", err)
		}
	}()

	refreshCtx, stopRefresh := context.WithCancel(ctx)
	refreshDone := make(chan struct{})
	fitDone := make(chan struct{})
	kpiDone := make(chan struct{})
	holder := leaseHolder()
	go func() {
		defer close(refreshDone)
		p.refreshLoop(refreshCtx)
	}()
	go func() {
		defer close(fitDone)
		p.fitLoop(refreshCtx, holder)
	}()
	go func() {
		defer close(kpiDone)
		p.kpiLoop(refreshCtx, holder)
	}()
	watermarkDone := make(chan struct{})
	go func() {
		defer close(watermarkDone)
		p.watermarkLoop(refreshCtx, p.cfg.PopulationRefresh)
	}()
	defer func() {
		stopRefresh()
		<-refreshDone
		<-fitDone
		<-kpiDone
		<-watermarkDone
	}()

	stop := context.AfterFunc(ctx, func() {
		// Closing the group ends the current generation: every partition
		// worker sees its context end, finishes its batch, commits and
		// returns; then the group is left.
		if err := group.Close(); err != nil {
			p.log.Warn("close consumer group", "err", err)
		}
	})
	defer stop()

	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				// Close waits until the workers of the last generation are done.
				_ = group.Close()
				p.assigned.Store(0)
				return nil
			}
			p.metrics.KafkaErrors.WithLabelValues("join").Inc()
			p.log.Warn("consumer group generation failed; retrying", "err", err)
			continue
		}
		p.metrics.Rebalances.Inc()
		var n int64
		committer := &committer{gen: gen}
		for topic, parts := range gen.Assignments {
			for _, a := range parts {
				n++
				w := p.newWorker(topic, a.ID, a.Offset, committer)
				gen.Start(w.run)
			}
		}
		p.assigned.Store(n)
		p.metrics.AssignedPartitions.Set(float64(n))
		p.log.Info("joined consumer group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", n)
	}
}

// committer serializes the offset commits of one generation's workers.
type committer struct {
	mu  sync.Mutex
	gen *kafka.Generation
}

func (c *committer) commit(topic string, partition int, next int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen.CommitOffsets(map[string]map[int]int64{topic: {partition: next}})
}

// retry runs op until it succeeds, backing off exponentially with jitter
// between cfg.RetryMin and cfg.RetryMax. It gives up only when ctx ends.
func (p *Processor) retry(ctx context.Context, what string, op func(context.Context) error) error {
	delay := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w (gave up: %w)", what, err, ctx.Err())
		}
		lvl := slog.LevelWarn
		if attempt > 1 {
			lvl = slog.LevelDebug
			if attempt%20 == 0 {
				lvl = slog.LevelWarn
			}
		}
		p.log.Log(ctx, lvl, "retrying", "op", what, "attempt", attempt, "backoff", delay, "err", err)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (gave up: %w)", what, err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, p.cfg.RetryMax)
	}
}

// redisCall runs op until it succeeds or ctx ends (retry), timing every
// attempt in redis_duration_seconds{op} and counting failures in
// redis_errors_total{op}.
func (p *Processor) redisCall(ctx context.Context, op string, f func(context.Context) error) error {
	return p.retry(ctx, "redis "+op, func(ctx context.Context) error {
		t := time.Now()
		err := f(ctx)
		p.metrics.RedisDuration.WithLabelValues(op).Observe(time.Since(t).Seconds())
		if err != nil {
			p.metrics.RedisErrors.WithLabelValues(op).Inc()
		}
		return err
	})
}

// kafkaRequestTimeout bounds one request of the processor's Kafka client
// (fetch, list offsets, metadata) beyond the time the broker may hold it.
const kafkaRequestTimeout = 30 * time.Second
