package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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
	// name is the run's unique name, of topics and the group; prefix its
	// Redis key prefix. Both as long as the defaults (customer.events,
	// clt) or nearly, as key and field lengths count in Redis memory.
	name   string
	prefix string
	tmp    string
	module string
	admin  *kafkaAdmin
	rdb    *redis.Client

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
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		_ = b.rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", o.redis, err)
	}
	for _, p := range []string{b.prefix, b.ceilingPrefix()} {
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
func (b *bench) topic(s string) string { return b.name + "." + s }
func (b *bench) group() string         { return b.name + "-group" }
func (b *bench) ceilingPrefix() string { return b.prefix + "c" }

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
		for _, p := range []string{b.prefix, b.ceilingPrefix()} {
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

	b.logf("building clienting")
	bin, err := buildClienting(ctx, b.module, b.tmp)
	if err != nil {
		return nil, err
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

	// End to end, memory, latency.
	if err := b.endToEnd(ctx, bin, res, ids, end); err != nil {
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
// and Redis ceilings on them. It returns the customer ids and the end
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
	outputs := []string{b.topic("segment-changes"), b.topic("churn-risk"), b.topic("recovery")}
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
		return nil, nil, fmt.Errorf("redis ceiling: %w", err)
	}
	cpu1, _ := redisCPU(ctx, b.rdb)
	res.redisCeiling = float64(len(evs)) / d.Seconds()
	res.redisCeilingCPU = (cpu1 - cpu0) / float64(len(evs)) * 1e6
	b.logf("redis ceiling: %.0f events/s (Redis CPU %.1f s per million)", res.redisCeiling, res.redisCeilingCPU)
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

// fitModel fits the churn and value model to the state the Redis ceiling
// left and saves it under the end-to-end run's prefix, where clienting
// loads it at start.
func (b *bench) fitModel(ctx context.Context, res *results) error {
	engine, err := scoring.NewEngine(scoring.DefaultConfig())
	if err != nil {
		return err
	}
	src, err := state.New(b.rdb, state.Config{Prefix: b.ceilingPrefix()})
	if err != nil {
		return err
	}
	dst, err := state.New(b.rdb, state.Config{Prefix: b.prefix})
	if err != nil {
		return err
	}
	t := time.Now()
	m, err := processor.FitStore(ctx, src, engine, processor.ModelConfig{}, time.Now())
	if err != nil {
		return fmt.Errorf("fit model: %w", err)
	}
	m.FittedAt = time.Now()
	if err := dst.SaveModel(ctx, m); err != nil {
		return err
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

// args is the command line of `clienting run` for this run.
func (b *bench) args(httpAddr string) []string {
	sets := []string{
		"kafka.brokers=" + strings.Join(b.o.brokers, ","),
		"kafka.group_id=" + b.group(),
		"kafka.topics.input=" + b.input(),
		"kafka.topics.segment_changes=" + b.topic("segment-changes"),
		"kafka.topics.churn_risk=" + b.topic("churn-risk"),
		"kafka.topics.recovery=" + b.topic("recovery"),
		"redis.addrs=" + b.o.redis,
		"redis.prefix=" + b.prefix,
		"processor.batch_size=" + strconv.Itoa(b.o.batchSize),
		"http.addr=" + httpAddr,
		"http.pprof=true",
		"log.level=warn",
		"model.refit=false",
	}
	sets = append(sets, b.o.sets...) // later ones win
	args := []string{"run"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// kafkaCPU is the broker's CPU seconds, when --kafka-pid names it.
func (b *bench) kafkaCPU() (float64, error) {
	if b.o.kafkaPID <= 0 {
		return 0, errors.New("no --kafka-pid")
	}
	return cpuSecondsOf(b.o.kafkaPID)
}

// committedTotal sums the committed offsets of the input partitions.
func (b *bench) committedTotal(ctx context.Context) (int64, error) {
	com, err := b.admin.committed(ctx, b.group(), b.input(), b.o.partitions)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range com {
		n += max(c, 0)
	}
	return n, nil
}

// waitCommitted polls the committed offsets every 50 ms until they sum to
// want; it returns the time of the first commit and of the last.
func (b *bench) waitCommitted(ctx context.Context, p *process, want int64, timeout time.Duration) (first, last time.Time, err error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := b.committedTotal(ctx)
		if err != nil {
			return first, last, err
		}
		now := time.Now()
		if n > 0 && first.IsZero() {
			first = now
		}
		if n >= want {
			return first, now, nil
		}
		if gone, err := p.exited(); gone {
			return first, last, fmt.Errorf("clienting exited: %w", err)
		}
		if now.After(deadline) {
			err := fmt.Errorf("committed %d of %d messages after %s", n, want, timeout)
			// what every goroutine of clienting waits for, to see why
			dump := filepath.Join(os.TempDir(), "clienting-stalled-"+b.name+".goroutines")
			if derr := p.profile(ctx, "goroutine", "debug=2", dump); derr == nil {
				err = fmt.Errorf("%w; clienting's goroutines are in %s", err, dump)
			}
			if m, serr := p.scrape(ctx); serr == nil {
				for k, v := range m {
					for _, name := range []string{"clienting_consumer_lag_messages", "clienting_kafka_errors_total",
						"clienting_redis_errors_total", "clienting_rebalances_total", "clienting_assigned_partitions"} {
						if strings.HasPrefix(k, name) {
							b.logf("stalled: %s %g", k, v)
						}
					}
				}
			}
			return first, last, err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return first, last, err
		}
	}
}

func (b *bench) endToEnd(ctx context.Context, bin string, res *results, ids []string, end []int64) error {
	var want int64
	for _, e := range end {
		want += e
	}
	mem0, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(port)
	logDir := b.tmp
	if b.o.profileDir != "" {
		if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
			return err
		}
		logDir = b.o.profileDir
	}
	logf, err := os.Create(filepath.Join(logDir, "clienting.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	b.logf("end to end: starting clienting")
	p, err := startClienting(bin, b.args(httpAddr), httpAddr, logf)
	if err != nil {
		return err
	}
	defer func() {
		if err := p.stop(30 * time.Second); err != nil {
			b.logf("stop clienting: %v", err)
		}
		if raw, err := os.ReadFile(logf.Name()); err == nil && len(raw) > 0 {
			b.logf("clienting's log (warnings and errors):\n%s", tail(raw, 4000))
		}
	}()

	ready, err := p.waitReady(ctx, 2*time.Minute)
	if err != nil {
		return err
	}
	res.join = ready.Sub(p.started)
	cpu0, err := p.cpuSeconds()
	if err != nil {
		return err
	}
	busy0, total0, _ := hostCPU()
	rcpu0, _ := redisCPU(ctx, b.rdb)
	kcpu0, kerr := b.kafkaCPU()
	cs0, err := commandStats(ctx, b.rdb)
	if err != nil {
		return err
	}
	m0, err := p.scrape(ctx)
	if err != nil {
		return err
	}

	profDone := make(chan error, 1)
	if b.o.profileDir != "" {
		if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
			return err
		}
		go func() {
			profDone <- p.profile(ctx, "profile", "seconds=15", filepath.Join(b.o.profileDir, "cpu.pprof"))
		}()
	} else {
		profDone <- nil
	}

	first, last, err := b.waitCommitted(ctx, p, want, 30*time.Minute)
	if err != nil {
		return err
	}
	res.e2eDuration = last.Sub(ready)
	res.firstCommit = first.Sub(ready)
	res.e2eRate = float64(want) / res.e2eDuration.Seconds()
	cpu1, err := p.cpuSeconds()
	if err != nil {
		return err
	}
	busy1, total1, _ := hostCPU()
	rcpu1, _ := redisCPU(ctx, b.rdb)
	if kcpu1, err := b.kafkaCPU(); err == nil && kerr == nil {
		res.kafkaCPUPerM = (kcpu1 - kcpu0) / (float64(want) / 1e6)
	}
	cs1, err := commandStats(ctx, b.rdb)
	if err != nil {
		return err
	}
	res.redisCommands = topCommands(cs0, cs1, float64(want), 5)
	m1, err := p.scrape(ctx)
	if err != nil {
		return err
	}
	res.e2eBreakdown = breakdownOf(m0, m1)
	millions := float64(want) / 1e6
	res.cpuPerM = (cpu1 - cpu0) / millions
	res.redisCPUPerM = (rcpu1 - rcpu0) / millions
	if total1 > total0 {
		res.hostBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	res.allocsPerEvent = m1.since(m0, "go_memstats_mallocs_total") / float64(want)
	res.bytesPerEvent = m1.since(m0, "go_memstats_alloc_bytes_total") / float64(want)
	res.outPerEvent = m1.since(m0, "clienting_transitions_total") / float64(want)
	res.rssE2E, _ = p.statusBytes("VmHWM")
	b.logf("end to end: %d events in %s (%.0f events/s) after joining in %s", want, res.e2eDuration.Round(time.Millisecond), res.e2eRate, res.join.Round(time.Millisecond))
	if err := <-profDone; err != nil {
		b.logf("cpu profile: %v", err)
	}
	if b.o.profileDir != "" {
		if err := p.profile(ctx, "allocs", "", filepath.Join(b.o.profileDir, "allocs.pprof")); err != nil {
			b.logf("allocs profile: %v", err)
		}
		b.logf("profiles in %s (go tool pprof -top %s/cpu.pprof)", b.o.profileDir, b.o.profileDir)
	}

	// Memory per customer.
	mem1, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return err
	}
	res.infoDeltaPerCustomer = float64(mem1-mem0) / float64(len(ids))
	store, err := state.New(b.rdb, state.Config{Prefix: b.prefix})
	if err != nil {
		return err
	}
	if res.mem, err = sampleMemory(ctx, b.rdb, store, ids, 2000); err != nil {
		return err
	}
	if res.listpack, err = listpackLimits(ctx, b.rdb); err != nil {
		res.listpack = "? (" + err.Error() + ")"
	}

	// Latency at half the measured capacity.
	m2, err := p.scrape(ctx)
	if err != nil {
		return err
	}
	traced := make(chan error, 1)
	if b.o.profileDir != "" {
		go func() {
			// a few seconds into the latency phase
			if err := sleep(ctx, 5*time.Second); err != nil {
				traced <- err
				return
			}
			cpu := make(chan error, 1)
			go func() {
				cpu <- p.profile(ctx, "profile", "seconds=15", filepath.Join(b.o.profileDir, "latency-cpu.pprof"))
			}()
			err := p.profile(ctx, "trace", "seconds=5", filepath.Join(b.o.profileDir, "latency.trace"))
			traced <- errors.Join(err, <-cpu)
		}()
	} else {
		traced <- nil
	}
	rate := res.e2eRate / 2
	if b.o.latencyRate > 0 {
		rate = b.o.latencyRate
	}
	if res.lat, err = b.latency(ctx, p, rate, ids); err != nil {
		return err
	}
	if err := <-traced; err != nil {
		b.logf("trace of the latency phase: %v", err)
	}
	m3, err := p.scrape(ctx)
	if err != nil {
		return err
	}
	res.latBreakdown = breakdownOf(m2, m3)
	res.latOutPerEvent = m3.since(m2, "clienting_transitions_total") / float64(max(res.lat.sent, 1))
	res.rssPeak, _ = p.statusBytes("VmHWM")
	return nil
}

// breakdown is what clienting's own metrics say about a phase.
type breakdown struct {
	batches, meanBatch, meanBatchSeconds float64
	// mean seconds per batch of each step (redis apply, record; kafka
	// fetch, produce, commit)
	apply, record, fetch, produce, commit float64
	swept, sweeps, meanSweepSeconds       float64
}

func breakdownOf(before, after scrape) breakdown {
	var b breakdown
	b.batches = after.since(before, "clienting_batch_duration_seconds_count")
	if b.batches > 0 {
		b.meanBatch = after.since(before, "clienting_batch_messages_sum") / b.batches
		b.meanBatchSeconds = after.since(before, "clienting_batch_duration_seconds_sum") / b.batches
		per := func(series string) float64 { return after.since(before, series) / b.batches }
		b.apply = per(`clienting_redis_duration_seconds_sum{op="apply"}`)
		b.record = per(`clienting_redis_duration_seconds_sum{op="record"}`)
		b.fetch = per(`clienting_kafka_duration_seconds_sum{op="fetch"}`)
		b.produce = per(`clienting_kafka_duration_seconds_sum{op="produce"}`)
		b.commit = per(`clienting_kafka_duration_seconds_sum{op="commit"}`)
	}
	b.swept = after.since(before, "clienting_sweep_customers_total")
	b.sweeps = after.since(before, "clienting_sweep_duration_seconds_count")
	if b.sweeps > 0 {
		b.meanSweepSeconds = after.since(before, "clienting_sweep_duration_seconds_sum") / b.sweeps
	}
	return b
}

// latencyResult is the latency phase's outcome.
type latencyResult struct {
	target, achieved float64 // events/s
	sent, matched    int
	p50, p99, p999   time.Duration
	max              time.Duration
}

// latency publishes events at rate for the latency duration: a share
// (--latency-new-share) are new customers' first purchases, which surely
// publish segment changes, the others purchases and contacts of existing
// customers, so that the mix costs about what the end-to-end stream does
// (a stream of new customers only publishes five changes per event). It
// waits until clienting has committed them, then matches every new
// customer's first segment change with its input event by customer id:
// latency is the change's Kafka timestamp (set by clienting's producer when
// it publishes) minus the input's (set here when publishing).
func (b *bench) latency(ctx context.Context, p *process, rate float64, ids []string) (latencyResult, error) {
	lr := latencyResult{target: rate}
	out := b.topic("segment-changes")
	from, err := b.admin.endOffsets(ctx, out, b.o.outputPartitions)
	if err != nil {
		return lr, err
	}
	inEnd, err := b.admin.endOffsets(ctx, b.input(), b.o.partitions)
	if err != nil {
		return lr, err
	}
	var before int64
	for _, e := range inEnd {
		before += e
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(b.o.brokers...),
		Topic:        b.input(),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond,
		// kafka-go allocates BatchSize messages for every partition batch;
		// a write here holds a few dozen
		BatchSize:   100,
		BatchBytes:  1_000_000,
		MaxAttempts: 5,
		Transport:   &kafka.Transport{MetadataTTL: time.Second},
	}
	defer func() { _ = w.Close() }()

	b.logf("latency: publishing at %.0f events/s for %s (measured after the first %s), %.0f %% of them new customers' first purchases",
		rate, b.o.latencyWarmup+b.o.latencyDuration, b.o.latencyWarmup, 100*b.o.newShare)
	sentAt := map[string]time.Time{}
	prefix := "lat-"
	r := rand.New(rand.NewPCG(b.o.seed, 7))
	probeEvery := max(1, int(math.Round(1/b.o.newShare)))
	began := time.Now()
	var batch []kafka.Message
	var buf []byte
	for {
		el := time.Since(began)
		if el >= b.o.latencyWarmup+b.o.latencyDuration {
			break
		}
		// the servers settle after the end-to-end run before it counts
		measured := el >= b.o.latencyWarmup
		due := int(el.Seconds() * rate)
		batch, buf = batch[:0], buf[:0]
		now := time.Now()
		for i := lr.sent; i < due; i++ {
			ev := events.Event{ID: prefix + "e" + strconv.Itoa(i), Time: now.Truncate(time.Millisecond)}
			probe := i%probeEvery == 0 || len(ids) == 0
			if probe {
				// a new customer: its first event publishes its first segments
				ev.CustomerID = prefix + strconv.Itoa(i)
				if measured {
					sentAt[ev.CustomerID] = now
				}
			} else {
				// an existing customer, as in the end-to-end stream
				ev.CustomerID = ids[r.IntN(len(ids))]
			}
			if probe || r.IntN(3) > 0 {
				ev.Type = events.TypePurchase
				ev.Purchase = events.Purchase{OrderID: ev.ID, Amount: 500 + r.Int64N(20000), Currency: events.DefaultBaseCurrency,
					Margin: 100 + r.Int64N(3000), HasMargin: true}
			} else {
				ev.Type = events.TypeContact
				ev.Contact = events.Contact{ContactID: ev.ID, Channel: "email", Outcome: "opened"}
			}
			start := len(buf)
			buf = ev.AppendJSON(buf, 2, events.DefaultBaseCurrency)
			batch = append(batch, kafka.Message{Key: []byte(ev.CustomerID), Value: buf[start:len(buf):len(buf)], Time: now})
		}
		if len(batch) > 0 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return lr, fmt.Errorf("latency: produce: %w", err)
			}
			lr.sent += len(batch)
		}
		// a write every 5 ms, as a producer with linger.ms=5 does: kafka-go
		// sends one produce request per partition and write
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return lr, err
		}
	}
	lr.achieved = float64(lr.sent) / time.Since(began).Seconds()
	if _, _, err := b.waitCommitted(ctx, p, before+int64(lr.sent), 2*time.Minute); err != nil {
		return lr, fmt.Errorf("latency: %w", err)
	}
	to, err := b.admin.endOffsets(ctx, out, b.o.outputPartitions)
	if err != nil {
		return lr, err
	}
	firstOut := map[string]time.Time{}
	err = readRange(ctx, b.o.brokers, out, from, to, func(r record) {
		if !strings.HasPrefix(r.key, prefix) {
			return
		}
		if t, ok := firstOut[r.key]; !ok || r.time.Before(t) {
			firstOut[r.key] = r.time
		}
	})
	if err != nil {
		return lr, err
	}
	lats := make([]time.Duration, 0, len(firstOut))
	var dump []byte
	for id, t := range firstOut {
		if t.Year() < 2000 {
			return lr, fmt.Errorf("latency: segment change of %s has Kafka timestamp %s: clienting publishes without a timestamp", id, t)
		}
		if s, ok := sentAt[id]; ok {
			lats = append(lats, t.Sub(s))
			if b.o.latencyDump != "" {
				dump = fmt.Appendf(dump, "%d %.3f\n", s.UnixMilli(), float64(t.Sub(s))/float64(time.Millisecond))
			}
		}
	}
	if b.o.latencyDump != "" {
		if err := os.WriteFile(b.o.latencyDump, dump, 0o644); err != nil {
			return lr, err
		}
	}
	lr.matched = len(lats)
	if len(lats) == 0 {
		return lr, errors.New("latency: no segment change matched an input event")
	}
	slices.Sort(lats)
	q := func(p float64) time.Duration {
		return lats[min(len(lats)-1, int(math.Ceil(p*float64(len(lats))))-1)]
	}
	lr.p50, lr.p99, lr.p999, lr.max = q(0.50), q(0.99), q(0.999), lats[len(lats)-1]
	b.logf("latency: %d of %d matched; p50 %s p99 %s p99.9 %s", lr.matched, lr.sent, lr.p50, lr.p99, lr.p999)
	return lr, nil
}

// tail returns at most n bytes of the end of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
