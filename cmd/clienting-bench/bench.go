package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/shop"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// bench holds one run's servers, names and scratch.
type bench struct {
	o   options
	log io.Writer
	// name is the run's unique name, of the input topic; prefix the base
	// of its Redis key prefixes. Both as long as the defaults
	// (customer.events, clt) or nearly, as key and field lengths count in
	// Redis memory.
	name   string
	prefix string
	tmp    string
	module string
	admin  *kafkaAdmin
	rdb    *redis.Client

	// cur is this tree's clienting; base the --baseline revision's, or nil.
	cur, base *instance

	topics []string // everything created, deleted at the end
}

func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	module, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "clienting-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{
		o: o, log: log, tmp: tmp, module: module,
		name:   fmt.Sprintf("b%07x", rand.Uint32()&0xfffffff),
		prefix: fmt.Sprintf("b%03x", rand.Uint32()&0xfff),
		admin:  newKafkaAdmin(o.brokers),
		rdb:    newRedis(o.redis, 4*o.partitions),
	}
	b.cur = &instance{label: "this tree", name: b.name, prefix: b.prefix, profile: true}
	if o.baseline != "" {
		// names of the same lengths as this tree's
		b.base = &instance{label: "baseline " + o.baseline, name: "a" + b.name[1:], prefix: "a" + b.prefix[1:]}
		for _, s := range o.sets {
			if k, _, _ := strings.Cut(s, "="); isNewKey(k) {
				b.base.dropped = append(b.base.dropped, k)
			}
		}
	}
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		_ = b.rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", o.redis, err)
	}
	for _, p := range b.prefixes() {
		n, err := countPrefix(ctx, b.rdb, p)
		if err != nil {
			_ = b.rdb.Close()
			return nil, fmt.Errorf("redis prefix %s: %w", p, err)
		}
		if n > 0 {
			_ = b.rdb.Close()
			return nil, fmt.Errorf("redis prefix %s: %d keys exist already; run again for another random prefix", p, n)
		}
	}
	return b, nil
}

func (b *bench) input() string         { return b.name + ".events" }
func (b *bench) ceilingPrefix() string { return b.prefix + "c" }

// instances are the end-to-end runs in the order they run: the baseline
// first.
func (b *bench) instances() []*instance {
	if b.base != nil {
		return []*instance{b.base, b.cur}
	}
	return []*instance{b.cur}
}

// prefixes are every Redis key prefix the run writes under.
func (b *bench) prefixes() []string {
	ps := []string{b.ceilingPrefix()}
	for _, in := range b.instances() {
		ps = append(ps, in.prefix)
	}
	return ps
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

// close deletes what the run created (unless --keep) and the temporary
// directory.
func (b *bench) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if !b.o.keep {
		if len(b.topics) > 0 {
			if err := b.admin.deleteTopics(ctx, b.topics...); err != nil {
				b.logf("delete topics: %v", err)
			}
		}
		for _, p := range b.prefixes() {
			if err := deletePrefix(ctx, b.rdb, p); err != nil {
				b.logf("delete Redis keys %s:*: %v", p, err)
			}
		}
	}
	_ = b.rdb.Close()
	_ = os.RemoveAll(b.tmp)
}

func (b *bench) run(ctx context.Context) (*results, error) {
	o := b.o
	res := &results{
		started: time.Now(), loadStart: loadAverage(), cpus: runtime.NumCPU(),
		events: o.events, customers: o.customers, partitions: o.partitions, outputPartitions: o.outputPartitions, batchSize: o.batchSize, newShare: o.newShare, sets: o.sets,
		latDuration: o.latencyDuration, latWarmup: o.latencyWarmup,
	}
	b.logf("run %s (Redis prefix %s): %d events, %d customers, %d partitions; load average %s", b.name, b.prefix, o.events, o.customers, o.partitions, res.loadStart)
	res.redis = redisSetup(ctx, b.rdb)
	if o.kafkaPID <= 0 {
		b.logf("no --kafka-pid: the broker's CPU is not measured")
	}

	b.logf("building clienting")
	var err error
	if b.cur.bin, err = buildClienting(ctx, b.module, b.tmp, "clienting"); err != nil {
		return nil, err
	}
	if b.base != nil {
		b.logf("building clienting at %s (git worktree)", o.baseline)
		bin, commit, err := buildRevision(ctx, b.module, b.tmp, o.baseline)
		if err != nil {
			return nil, fmt.Errorf("--baseline %s: %w", o.baseline, err)
		}
		b.base.bin = bin
		res.baseCommit = commit
		if commit != o.baseline {
			b.base.label = "baseline " + commit
		}
		res.baseDropped = b.base.dropped
	}

	ids, end, err := b.ceilings(ctx, res)
	if err != nil {
		return nil, err
	}
	runtime.GC() // the events and messages are garbage now
	if res.redisBenchmark, err = redisBenchmark(ctx, o.redis); err != nil {
		res.redisBenchmarkErr = err.Error()
		b.logf("%v", err)
	}

	// End to end: the baseline first, its Redis keys deleted before this
	// tree's run; then this tree's, with memory and latency.
	if b.base != nil {
		if res.base, err = b.endToEnd(ctx, b.base, res, ids, end, false); err != nil {
			return res, err
		}
		if !o.keep {
			if err := deletePrefix(ctx, b.rdb, b.base.prefix); err != nil {
				return res, err
			}
		}
	}
	if res.e2e, err = b.endToEnd(ctx, b.cur, res, ids, end, true); err != nil {
		return res, err
	}

	if !o.skipMicro {
		b.logf("micro-benchmarks")
		if res.micro, err = runMicro(ctx, b.module, b.o.redis); err != nil {
			return res, err
		}
	}
	res.loadEnd = loadAverage()
	res.took = time.Since(res.started)
	return res, nil
}

// ceilings generates and pre-produces the events, then measures the Kafka
// and state ceilings on them. It returns the customer ids and the end
// offsets of the input partitions.
func (b *bench) ceilings(ctx context.Context, res *results) ([]string, []int64, error) {
	o := b.o
	t := time.Now()
	evs, msgs, ids, err := b.generate()
	if err != nil {
		return nil, nil, err
	}
	res.customers = len(ids)
	b.logf("generated %d events of %d customers in %s", len(evs), len(ids), time.Since(t).Round(time.Millisecond))

	b.topics = []string{b.input(), b.input() + ".dlq"}
	if err := b.admin.createTopics(ctx, o.partitions, b.topics...); err != nil {
		return nil, nil, err
	}
	var outputs []string
	for _, in := range b.instances() {
		outputs = append(outputs, in.outputs()...)
	}
	b.topics = append(b.topics, outputs...)
	if err := b.admin.createTopics(ctx, o.outputPartitions, outputs...); err != nil {
		return nil, nil, err
	}
	t = time.Now()
	if err := produce(ctx, o.brokers, b.input(), o.partitions, msgs); err != nil {
		return nil, nil, err
	}
	res.produceRate = float64(len(msgs)) / time.Since(t).Seconds()
	b.logf("pre-produced %d events in %s (%.0f events/s)", len(msgs), time.Since(t).Round(time.Millisecond), res.produceRate)
	end, err := b.admin.endOffsets(ctx, b.input(), o.partitions)
	if err != nil {
		return nil, nil, err
	}
	start, err := b.admin.offsets(ctx, b.input(), o.partitions, kafka.FirstOffset)
	if err != nil {
		return nil, nil, err
	}
	parts := make([]int, len(msgs))
	for i := range msgs {
		parts[i] = msgs[i].Partition
	}

	// Ceilings.
	t = time.Now()
	n, err := consumeCeiling(ctx, o.brokers, b.input(), start, end)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka ceiling: %w", err)
	}
	res.kafkaCeiling = float64(n) / time.Since(t).Seconds()
	b.logf("kafka ceiling: %d messages, %.0f/s", n, res.kafkaCeiling)

	cpu0, _ := redisCPU(ctx, b.rdb)
	d, err := applyCeiling(ctx, b.rdb, b.ceilingPrefix(), evs, parts, o.partitions, o.batchSize)
	if err != nil {
		return nil, nil, fmt.Errorf("state ceiling: %w", err)
	}
	cpu1, _ := redisCPU(ctx, b.rdb)
	res.redisCeiling = float64(len(evs)) / d.Seconds()
	res.redisCeilingCPU = (cpu1 - cpu0) / float64(len(evs)) * 1e6
	b.logf("state ceiling (apply in Go, fenced batch writes): %.0f events/s (Redis CPU %.1f s per million)", res.redisCeiling, res.redisCeilingCPU)
	if o.withModel {
		if err := b.fitModel(ctx, res); err != nil {
			return nil, nil, err
		}
	}
	if err := deletePrefix(ctx, b.rdb, b.ceilingPrefix()); err != nil {
		return nil, nil, err
	}

	return ids, end, nil
}

// fitModel fits the churn and value model to the state the state ceiling
// left and saves it under every end-to-end run's prefix, where clienting
// loads it at start (release 1 keeps it under the same key, as the same
// JSON).
func (b *bench) fitModel(ctx context.Context, res *results) error {
	engine, err := scoring.NewEngine(scoring.DefaultConfig())
	if err != nil {
		return err
	}
	src, err := state.New(b.rdb, state.Config{Prefix: b.ceilingPrefix()})
	if err != nil {
		return err
	}
	t := time.Now()
	m, err := processor.FitStore(ctx, src, engine, processor.ModelConfig{}, time.Now())
	if err != nil {
		return fmt.Errorf("fit model: %w", err)
	}
	m.FittedAt = time.Now()
	for _, in := range b.instances() {
		dst, err := state.New(b.rdb, state.Config{Prefix: in.prefix})
		if err != nil {
			return err
		}
		if err := dst.SaveModel(ctx, m); err != nil {
			return err
		}
	}
	res.model = true
	b.logf("fitted the model to %d customers in %s", m.N, time.Since(t).Round(time.Millisecond))
	return nil
}

// generate draws the events from the simulated shop, shifted so that the
// last one happened an hour ago, and encodes them as the input messages.
func (b *bench) generate() ([]events.Event, []kafka.Message, []string, error) {
	s, err := shop.New(shop.Config{Seed: b.o.seed, Customers: b.o.customers, Start: shop.DefaultStart})
	if err != nil {
		return nil, nil, nil, err
	}
	evs := make([]events.Event, 0, b.o.events)
	for len(evs) < b.o.events {
		ev, ok := s.Next()
		if !ok {
			break
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil, nil, nil, errors.New("the shop produced no events")
	}
	shift := time.Now().Add(-time.Hour).Sub(evs[len(evs)-1].Time).Truncate(time.Second)
	seen := map[string]bool{}
	var ids []string
	msgs := make([]kafka.Message, len(evs))
	var buf []byte
	for i := range evs {
		ev := &evs[i]
		ev.Time = ev.Time.Add(shift)
		if !seen[ev.CustomerID] {
			seen[ev.CustomerID] = true
			ids = append(ids, ev.CustomerID)
		}
		start := len(buf)
		buf = ev.AppendJSON(buf, 2, events.DefaultBaseCurrency)
		key := []byte(ev.CustomerID)
		msgs[i] = kafka.Message{Key: key, Value: buf[start:len(buf):len(buf)], Partition: partitionOf(key, b.o.partitions)}
	}
	return evs, msgs, ids, nil
}

// tail returns at most n bytes of the end of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
