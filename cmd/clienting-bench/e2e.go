package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clienting/clienting/state"
)

// instance is one clienting binary run end to end on the shared input
// topic, under names of its own (consumer group, output topics, Redis
// prefix), so that two runs share no state.
type instance struct {
	// label names the binary in the output: "this tree" or "baseline <rev>".
	label string
	bin   string
	// name is the base of its group and output topics, prefix its Redis key
	// prefix; both as long as the defaults (customer.events, clt) or nearly,
	// as key lengths count in Redis memory, and equally long for both runs.
	name   string
	prefix string
	// dropped are the --set keys not passed to it (the baseline does not
	// know them).
	dropped []string
	// profile: save the profiles of --profile-dir for this run.
	profile bool
}

func (in *instance) group() string         { return in.name + "-group" }
func (in *instance) topic(s string) string { return in.name + "." + s }

func (in *instance) outputs() []string {
	return []string{in.topic("segment-changes"), in.topic("churn-risk"), in.topic("recovery")}
}

// newKeys are the configuration keys (or key prefixes, ending in '.') that
// State v2 added: a release-1 binary rejects them, so they are not passed
// to a baseline.
var newKeys = []string{"dedupe.", "processor.cache_size", "processor.accept_state_loss"}

func isNewKey(key string) bool {
	for _, k := range newKeys {
		if key == k || strings.HasSuffix(k, ".") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// args is the command line of `clienting run` for in. Every key the bench
// sets itself exists in release 1 (cmd/clienting/config.go at f7da30b).
func (b *bench) args(in *instance, httpAddr string) []string {
	sets := []string{
		"kafka.brokers=" + strings.Join(b.o.brokers, ","),
		"kafka.group_id=" + in.group(),
		"kafka.topics.input=" + b.input(),
		"kafka.topics.segment_changes=" + in.topic("segment-changes"),
		"kafka.topics.churn_risk=" + in.topic("churn-risk"),
		"kafka.topics.recovery=" + in.topic("recovery"),
		"redis.addrs=" + b.o.redis,
		"redis.prefix=" + in.prefix,
		"processor.batch_size=" + strconv.Itoa(b.o.batchSize),
		"http.addr=" + httpAddr,
		"http.pprof=true",
		"log.level=warn",
		"model.refit=false",
	}
	for _, s := range b.o.sets { // later ones win
		if k, _, _ := strings.Cut(s, "="); slices.Contains(in.dropped, k) {
			continue
		}
		sets = append(sets, s)
	}
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

// committedTotal sums in's committed offsets of the input partitions.
func (b *bench) committedTotal(ctx context.Context, in *instance) (int64, error) {
	com, err := b.admin.committed(ctx, in.group(), b.input(), b.o.partitions)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range com {
		n += max(c, 0)
	}
	return n, nil
}

// waitCommitted polls in's committed offsets every 50 ms until they sum to
// want; it returns the time of the first commit and of the last.
func (b *bench) waitCommitted(ctx context.Context, in *instance, p *process, want int64, timeout time.Duration) (first, last time.Time, err error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := b.committedTotal(ctx, in)
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
			return first, last, fmt.Errorf("%s: clienting exited: %w", in.label, err)
		}
		if now.After(deadline) {
			err := fmt.Errorf("%s: committed %d of %d messages after %s", in.label, n, want, timeout)
			// what every goroutine of clienting waits for, to see why
			dump := filepath.Join(os.TempDir(), "clienting-stalled-"+in.name+".goroutines")
			if derr := p.profile(ctx, "goroutine", "debug=2", dump); derr == nil {
				err = fmt.Errorf("%w; clienting's goroutines are in %s", err, dump)
			}
			if m, serr := p.scrape(ctx); serr == nil {
				for k, v := range m {
					for _, name := range []string{"clienting_consumer_lag_messages", "clienting_kafka_errors_total",
						"clienting_redis_errors_total", "clienting_rebalances_total", "clienting_assigned_partitions",
						"clienting_state_fenced_writes_total", "clienting_state_lost_partitions"} {
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

// e2eResult is what one instance's end-to-end run measured.
type e2eResult struct {
	label             string
	join, firstCommit time.Duration
	duration          time.Duration
	rate              float64 // events/s
	// CPU seconds per million events of clienting (utime+stime), Redis
	// (INFO cpu) and the broker (kafkaKnown: --kafka-pid given and read)
	cpuPerM, redisCPUPerM, kafkaCPUPerM float64
	kafkaKnown                          bool
	redisCommands                       []commandCost // the commands that took the most Redis time
	hostBusy                            float64
	allocsPerEvent, bytesPerEvent       float64
	outPerEvent                         float64 // transitions published per input event
	breakdown                           breakdown
	rss                                 int64 // clienting's VmHWM after the run
	// Redis memory: INFO used_memory delta over the run per customer, and
	// MEMORY USAGE of sampled customer keys
	infoDeltaPerCustomer float64
	mem                  memorySample
}

// cpuSum is clienting + Redis + broker CPU seconds per million events.
func (r *e2eResult) cpuSum() float64 { return r.cpuPerM + r.redisCPUPerM + r.kafkaCPUPerM }

// endToEnd runs in's clienting on the pre-produced input (end: the input
// partitions' end offsets) until it has committed all of it, then measures
// Redis memory per customer. With latency it then runs the latency phase
// on the same process and records it in res.
func (b *bench) endToEnd(ctx context.Context, in *instance, res *results, ids []string, end []int64, latency bool) (*e2eResult, error) {
	var want int64
	for _, e := range end {
		want += e
	}
	mem0, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(port)
	logDir := b.tmp
	profileDir := ""
	if b.o.profileDir != "" {
		if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
			return nil, err
		}
		logDir = b.o.profileDir
		if in.profile {
			profileDir = b.o.profileDir
		}
	}
	logf, err := os.Create(filepath.Join(logDir, "clienting-"+in.name+".log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }()
	b.logf("end to end, %s: starting clienting", in.label)
	p, err := startClienting(in.bin, b.args(in, httpAddr), httpAddr, logf)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := p.stop(30 * time.Second); err != nil {
			b.logf("stop clienting (%s): %v", in.label, err)
		}
		if raw, err := os.ReadFile(logf.Name()); err == nil && len(raw) > 0 {
			b.logf("clienting's log (%s; warnings and errors):\n%s", in.label, tail(raw, 4000))
		}
	}()

	ready, err := p.waitReady(ctx, 2*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.label, err)
	}
	r := &e2eResult{label: in.label, join: ready.Sub(p.started)}
	cpu0, err := p.cpuSeconds()
	if err != nil {
		return nil, err
	}
	busy0, total0, _ := hostCPU()
	rcpu0, err := redisCPU(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	kcpu0, kerr := b.kafkaCPU()
	if kerr != nil {
		b.logf("broker CPU not measured: %v", kerr)
	}
	cs0, err := commandStats(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	m0, err := p.scrape(ctx)
	if err != nil {
		return nil, err
	}

	profDone := make(chan error, 1)
	if profileDir != "" {
		go func() {
			profDone <- p.profile(ctx, "profile", "seconds=15", filepath.Join(profileDir, "cpu.pprof"))
		}()
	} else {
		profDone <- nil
	}

	first, last, err := b.waitCommitted(ctx, in, p, want, 30*time.Minute)
	if err != nil {
		return nil, err
	}
	r.duration = last.Sub(ready)
	r.firstCommit = first.Sub(ready)
	r.rate = float64(want) / r.duration.Seconds()
	cpu1, err := p.cpuSeconds()
	if err != nil {
		return nil, err
	}
	busy1, total1, _ := hostCPU()
	rcpu1, err := redisCPU(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	millions := float64(want) / 1e6
	if kerr == nil {
		kcpu1, err := b.kafkaCPU()
		if err != nil {
			b.logf("broker CPU not measured: %v", err)
		} else {
			r.kafkaCPUPerM, r.kafkaKnown = (kcpu1-kcpu0)/millions, true
		}
	}
	cs1, err := commandStats(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	r.redisCommands = topCommands(cs0, cs1, float64(want), 5)
	m1, err := p.scrape(ctx)
	if err != nil {
		return nil, err
	}
	r.breakdown = breakdownOf(m0, m1)
	r.cpuPerM = (cpu1 - cpu0) / millions
	r.redisCPUPerM = (rcpu1 - rcpu0) / millions
	if total1 > total0 {
		r.hostBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	r.allocsPerEvent = m1.since(m0, "go_memstats_mallocs_total") / float64(want)
	r.bytesPerEvent = m1.since(m0, "go_memstats_alloc_bytes_total") / float64(want)
	r.outPerEvent = m1.since(m0, "clienting_transitions_total") / float64(want)
	r.rss, _ = p.statusBytes("VmHWM")
	b.logf("end to end, %s: %d events in %s (%.0f events/s) after joining in %s; CPU s per million events: clienting %.1f, Redis %.1f, broker %.1f",
		in.label, want, r.duration.Round(time.Millisecond), r.rate, r.join.Round(time.Millisecond), r.cpuPerM, r.redisCPUPerM, r.kafkaCPUPerM)
	if err := <-profDone; err != nil {
		b.logf("cpu profile: %v", err)
	}
	if profileDir != "" {
		if err := p.profile(ctx, "allocs", "", filepath.Join(profileDir, "allocs.pprof")); err != nil {
			b.logf("allocs profile: %v", err)
		}
		b.logf("profiles in %s (go tool pprof -top %s/cpu.pprof)", profileDir, profileDir)
	}

	// Memory per customer: everything the run added to Redis (customer
	// values, per-partition keys), over the customers.
	mem1, err := usedMemory(ctx, b.rdb)
	if err != nil {
		return nil, err
	}
	r.infoDeltaPerCustomer = float64(mem1-mem0) / float64(len(ids))
	store, err := state.New(b.rdb, state.Config{Prefix: in.prefix})
	if err != nil {
		return nil, err
	}
	if r.mem, err = sampleMemory(ctx, b.rdb, store, ids, 2000); err != nil {
		return nil, err
	}
	b.logf("end to end, %s: Redis memory per customer %.0f B (INFO used_memory delta), MEMORY USAGE mean %.0f B (%s)",
		in.label, r.infoDeltaPerCustomer, r.mem.mean, r.mem.typesText())
	if !latency {
		return r, nil
	}
	return r, b.latencyPhase(ctx, in, p, r, res, ids, profileDir)
}

// latencyPhase measures latency at half r's capacity (or --latency-rate)
// on the running process p and records it in res.
func (b *bench) latencyPhase(ctx context.Context, in *instance, p *process, r *e2eResult, res *results, ids []string, profileDir string) error {
	m2, err := p.scrape(ctx)
	if err != nil {
		return err
	}
	traced := make(chan error, 1)
	if profileDir != "" {
		go func() {
			// a few seconds into the latency phase
			if err := sleep(ctx, 5*time.Second); err != nil {
				traced <- err
				return
			}
			cpu := make(chan error, 1)
			go func() {
				cpu <- p.profile(ctx, "profile", "seconds=15", filepath.Join(profileDir, "latency-cpu.pprof"))
			}()
			err := p.profile(ctx, "trace", "seconds=5", filepath.Join(profileDir, "latency.trace"))
			traced <- errors.Join(err, <-cpu)
		}()
	} else {
		traced <- nil
	}
	rate := r.rate / 2
	if b.o.latencyRate > 0 {
		rate = b.o.latencyRate
	}
	if res.lat, err = b.latency(ctx, in, p, rate, ids); err != nil {
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
	// mean seconds per batch of each Redis and Kafka operation, by the op
	// label of clienting_{redis,kafka}_duration_seconds (State v2: load,
	// write; release 1: apply, record)
	redis, kafka                    []opTime
	swept, sweeps, meanSweepSeconds float64
	// state cache (State v2): hits and misses
	cacheHits, cacheMisses float64
}

// opTime is the mean time per batch of one operation.
type opTime struct {
	op      string
	seconds float64
}

func breakdownOf(before, after scrape) breakdown {
	var b breakdown
	b.batches = after.since(before, "clienting_batch_duration_seconds_count")
	if b.batches > 0 {
		b.meanBatch = after.since(before, "clienting_batch_messages_sum") / b.batches
		b.meanBatchSeconds = after.since(before, "clienting_batch_duration_seconds_sum") / b.batches
		b.redis = opTimes(before, after, "clienting_redis_duration_seconds_sum", b.batches)
		b.kafka = opTimes(before, after, "clienting_kafka_duration_seconds_sum", b.batches)
	}
	b.swept = after.since(before, "clienting_sweep_customers_total")
	b.sweeps = after.since(before, "clienting_sweep_duration_seconds_count")
	if b.sweeps > 0 {
		b.meanSweepSeconds = after.since(before, "clienting_sweep_duration_seconds_sum") / b.sweeps
	}
	b.cacheHits = after.since(before, "clienting_state_cache_hits_total")
	b.cacheMisses = after.since(before, "clienting_state_cache_misses_total")
	return b
}

// opTimes returns the growth of every op="..." series of metric per batch,
// sorted by op.
func opTimes(before, after scrape, metric string, batches float64) []opTime {
	var out []opTime
	for k := range after {
		rest, ok := strings.CutPrefix(k, metric+`{op="`)
		if !ok {
			continue
		}
		op, ok := strings.CutSuffix(rest, `"}`)
		if !ok {
			continue
		}
		out = append(out, opTime{op: op, seconds: after.since(before, k) / batches})
	}
	slices.SortFunc(out, func(x, y opTime) int { return strings.Compare(x.op, y.op) })
	return out
}
