package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Targets of the State v2 issue, on 1,000,000 events of 100,000 customers
// with the default scoring configuration.
const (
	issueEvents       = 1_000_000
	issueCustomers    = 100_000
	targetSpeedup     = 2.5                   // end-to-end events/s over the baseline revision's
	targetCPUSum      = 15.0                  // CPU s per million events, clienting + Redis + broker
	targetRedisCPU    = 4.0                   // CPU s per million events, Redis alone
	targetMemCustomer = 250                   // bytes of Redis memory per customer, INFO used_memory delta
	targetP99         = 50 * time.Millisecond // end to end, at half capacity
	targetHotAllocs   = 5                     // allocations per event on the hot path (processor HotPath)
)

// results are every figure of a run.
type results struct {
	started            time.Time
	took               time.Duration
	loadStart, loadEnd string
	cpus               int
	redis              string // the server's version and persistence

	events, customers, partitions, batchSize int
	outputPartitions                         int
	model                                    bool // the end-to-end runs had a fitted model

	produceRate       float64
	kafkaCeiling      float64
	redisCeiling      float64 // state ceiling: apply in Go + fenced batch writes
	redisCeilingCPU   float64 // Redis CPU seconds per million events
	redisBenchmark    float64
	redisBenchmarkErr string

	// e2e is this tree's end-to-end run; base the baseline's (nil without
	// --baseline), which ran first.
	e2e, base   *e2eResult
	baseCommit  string
	baseDropped []string // --set keys not passed to the baseline

	latBreakdown   breakdown
	latOutPerEvent float64
	newShare       float64
	sets           []string // --set passed to clienting run
	latDuration    time.Duration
	latWarmup      time.Duration
	rssPeak        int64

	lat latencyResult

	micro []micro
}

func (r *results) ceiling() float64 { return min(r.kafkaCeiling, r.redisCeiling) }

// issueSized reports whether the run has the size and configuration the
// targets are stated for.
func (r *results) issueSized() bool {
	return r.events == issueEvents && r.customers == issueCustomers && len(r.sets) == 0 && !r.model
}

// print writes the tables.
func (r *results) print(w io.Writer) {
	t := table{head: []string{"figure", "value", "target", ""}}
	t.section("Ceilings (same run)")
	t.row("Kafka consume, Client.Fetch per partition, no processing", rate(r.kafkaCeiling), "", "")
	t.row(fmt.Sprintf("state ceiling: apply in Go + fenced batch writes, batches of %d, %d concurrent", r.batchSize, r.partitions), rate(r.redisCeiling), "", "")
	t.row("  Redis CPU in the state ceiling", perM(r.redisCeilingCPU), "", "")
	if r.redisBenchmarkErr != "" {
		t.row("redis-benchmark SET -P 16 (reference)", "n/a: "+r.redisBenchmarkErr, "", "")
	} else {
		t.row("redis-benchmark SET -P 16 (reference)", fmt.Sprintf("%s ops/s", thousands(r.redisBenchmark)), "", "")
	}

	scoring := "no model yet: recency heuristic"
	if r.model {
		scoring = "with a fitted model"
	}
	if e := r.e2e; e != nil {
		t.section(fmt.Sprintf("End to end: clienting run (this tree) on %s pre-produced events, %s customers (%s)", thousands(float64(r.events)), thousands(float64(r.customers)), scoring))
		t.row("group join (start to /readyz 200), not counted", dur(e.join), "", "")
		t.row("first commit after /readyz", dur(e.firstCommit), "", "")
		t.row("time from /readyz to all offsets committed", dur(e.duration), "", "")
		if b := r.base; b != nil {
			t.row("throughput", rate(e.rate), "", "")
			t.row("  / baseline "+r.baseCommit, fmt.Sprintf("%.2f x (%s)", e.rate/b.rate, rate(b.rate)), fmt.Sprintf(">= %.1f x", targetSpeedup), mark(e.rate >= targetSpeedup*b.rate))
		} else {
			t.row("throughput", rate(e.rate), fmt.Sprintf(">= %.1f x baseline (--baseline REV)", targetSpeedup), "")
		}
		if c := r.ceiling(); c > 0 {
			t.row("throughput / lower ceiling", fmt.Sprintf("%.0f %%", 100*e.rate/c), "", "")
		}
		e.cpuRows(&t)
		for _, c := range e.redisCommands {
			t.row("  Redis "+strings.ToUpper(c.name)+" (INFO commandstats)", fmt.Sprintf("%.1f µs per event, %.1f µs per call", c.usecPerEvent, c.perCall), "", "")
		}
		t.row("machine CPU busy (all cores, all processes)", fmt.Sprintf("%.0f %% of %d cores", 100*e.hostBusy, r.cpus), "", "")
		t.row("clienting allocations (whole process, Kafka client included)", fmt.Sprintf("%.1f allocs, %s B per event", e.allocsPerEvent, thousands(e.bytesPerEvent)), "", "")
		t.row("clienting peak RSS (VmHWM) after end to end", mib(e.rss), "", "")
		t.row("transitions published per input event", fmt.Sprintf("%.2f", e.outPerEvent), "", "")
		e.breakdown.rows(&t)

		load := "half capacity"
		if math.Abs(r.lat.target-e.rate/2) > 1 {
			load = "a set rate (--latency-rate)"
		}
		t.section(fmt.Sprintf("Latency at %s (%s, %.0f %% new customers' first purchases, measured for %s after %s at that rate)",
			load, rate(r.lat.target), 100*r.newShare, r.latDuration, r.latWarmup))
		t.row("published / new customers matched", fmt.Sprintf("%s at %s / %s", thousands(float64(r.lat.sent)), rate(r.lat.achieved), thousands(float64(r.lat.matched))), "", "")
		t.row("transitions published per input event", fmt.Sprintf("%.2f", r.latOutPerEvent), "", "")
		t.row("p50", dur(r.lat.p50), "", "")
		t.row("p99", dur(r.lat.p99), "< "+targetP99.String()+" at half capacity", mark(r.lat.p99 > 0 && r.lat.p99 < targetP99))
		t.row("p99.9", dur(r.lat.p999), "", "")
		t.row("max", dur(r.lat.max), "", "")
		t.row("clienting peak RSS (VmHWM), whole run", mib(r.rssPeak), "", "")
		r.latBreakdown.rows(&t)

		t.section("Redis memory per customer (this tree, default configuration)")
		t.row("INFO used_memory delta of the end-to-end run / customers", bytesText(e.infoDeltaPerCustomer), fmt.Sprintf("<= %d B", targetMemCustomer), mark(e.infoDeltaPerCustomer <= targetMemCustomer))
		e.mem.rows(&t)
	}

	if b := r.base; b != nil && r.e2e == nil {
		// this tree's run failed: what the baseline measured
		t.section(fmt.Sprintf("End to end: %s only (this tree's run failed)", b.label))
		t.row("throughput", rate(b.rate), "", "")
		b.cpuRows(&t)
		t.row("INFO used_memory delta of the end-to-end run / customers", bytesText(b.infoDeltaPerCustomer), "", "")
		b.mem.rows(&t)
		t.row("clienting peak RSS (VmHWM) after end to end", mib(b.rss), "", "")
	}

	if len(r.micro) > 0 {
		t.section("Go micro-benchmarks (go test -bench -benchmem; an op of processor HotPath is one event)")
		for _, b := range r.micro {
			target, ok := "", ""
			if strings.HasPrefix(b.name, "processor HotPath/") {
				target, ok = fmt.Sprintf("<= %d allocs per event", targetHotAllocs), mark(b.allocsPerOp <= targetHotAllocs)
			}
			t.row(b.name, fmt.Sprintf("%s ns/op  %.0f B/op  %.0f allocs/op", thousands(b.nsPerOp), b.bytesPerOp, b.allocsPerOp), target, ok)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "clienting bench, %s, %d CPUs, load average %s at the start, %s at the end; took %s\n",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.cpus, r.loadStart, r.loadEnd, r.took.Round(time.Second))
	fmt.Fprintf(w, "%s events, %s customers, %d input partitions, %d per output topic, processor.batch_size %d; Kafka, Redis, clienting and this program share the machine.\n",
		thousands(float64(r.events)), thousands(float64(r.customers)), r.partitions, r.outputPartitions, r.batchSize)
	if len(r.sets) > 0 {
		fmt.Fprintf(w, "clienting run settings besides the defaults: %s\n", strings.Join(r.sets, " "))
	}
	if !r.issueSized() {
		fmt.Fprintf(w, "The targets are those of the State v2 issue, stated for %s events of %s customers with the default configuration and no model: this run differs, its marks are indicative.\n",
			thousands(issueEvents), thousands(issueCustomers))
	}
	if r.base != nil {
		fmt.Fprintf(w, "Order: the baseline (%s) ran end to end first, then this tree, on the same pre-produced events, each with its own consumer group, output topics and Redis prefix.\n", r.baseCommit)
		if len(r.baseDropped) > 0 {
			fmt.Fprintf(w, "Not passed to the baseline (keys it does not know): %s\n", strings.Join(r.baseDropped, " "))
		}
	}
	fmt.Fprintf(w, "%s.\n", r.redis)
	fmt.Fprintln(w, "CPU is measured from /readyz to the last commit: clienting and the broker by /proc/<pid>/stat, Redis by INFO cpu.")
	fmt.Fprintln(w, "Latency is Kafka timestamp of the segment change (clienting's producer) minus that of the input event (this program): both from this machine's clock.")
	fmt.Fprintln(w)
	t.write(w)
	if r.base != nil && r.e2e != nil {
		fmt.Fprintln(w)
		r.comparison().write(w)
	}
}

// cpuRows adds the CPU figures of an end-to-end run, with the targets.
func (e *e2eResult) cpuRows(t *table) {
	t.row("clienting CPU (utime+stime)", perM(e.cpuPerM), "", "")
	t.row("Redis CPU (INFO used_cpu_user+sys)", perM(e.redisCPUPerM), fmt.Sprintf("<= %.0f s", targetRedisCPU), mark(e.redisCPUPerM <= targetRedisCPU))
	if e.kafkaKnown {
		t.row("Kafka broker CPU (JVM utime+stime)", perM(e.kafkaCPUPerM), "", "")
		t.row("CPU clienting + Redis + broker", perM(e.cpuSum()), fmt.Sprintf("<= %.0f s", targetCPUSum), mark(e.cpuSum() <= targetCPUSum))
	} else {
		t.row("Kafka broker CPU", "n/a (no --kafka-pid)", "", "")
		t.row("CPU clienting + Redis + broker", "n/a: clienting + Redis alone "+perM(e.cpuPerM+e.redisCPUPerM), fmt.Sprintf("<= %.0f s", targetCPUSum), "")
	}
}

// rows adds a memory sample to t.
func (m memorySample) rows(t *table) {
	t.row(fmt.Sprintf("MEMORY USAGE of %d sampled customer keys: mean", m.n), bytesText(m.mean), "", "")
	t.row("  p50 / max", bytesText(m.p50)+" / "+bytesText(m.max), "", "")
	t.row("  key types", m.typesText(), "", "")
	if m.types["string"] > 0 {
		t.row("  value length (STRLEN): mean", bytesText(m.valueMean), "", "")
	}
	if m.types["hash"] > 0 {
		t.row("  fields per hash (HLEN): mean", fmt.Sprintf("%.1f", m.fieldsMean), "", "")
	}
}

// comparison is the side-by-side table of the baseline's end-to-end run
// and this tree's.
func (r *results) comparison() *table {
	b, e := r.base, r.e2e
	t := &table{head: []string{"end to end (baseline ran first)", b.label, "this tree", "this tree / baseline", "target", ""}}
	ratio := func(x, y float64) string {
		if y == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f x", x/y)
	}
	secs := func(v float64) string { return fmt.Sprintf("%.1f s", v) }
	t.row("throughput, events/s", thousands(b.rate), thousands(e.rate), ratio(e.rate, b.rate),
		fmt.Sprintf(">= %.1f x", targetSpeedup), mark(e.rate >= targetSpeedup*b.rate))
	t.row("CPU s per million events: clienting", secs(b.cpuPerM), secs(e.cpuPerM), ratio(e.cpuPerM, b.cpuPerM), "", "")
	t.row("  Redis", secs(b.redisCPUPerM), secs(e.redisCPUPerM), ratio(e.redisCPUPerM, b.redisCPUPerM),
		fmt.Sprintf("<= %.0f s", targetRedisCPU), mark(e.redisCPUPerM <= targetRedisCPU))
	if b.kafkaKnown && e.kafkaKnown {
		t.row("  broker", secs(b.kafkaCPUPerM), secs(e.kafkaCPUPerM), ratio(e.kafkaCPUPerM, b.kafkaCPUPerM), "", "")
		t.row("  sum clienting + Redis + broker", secs(b.cpuSum()), secs(e.cpuSum()), ratio(e.cpuSum(), b.cpuSum()),
			fmt.Sprintf("<= %.0f s", targetCPUSum), mark(e.cpuSum() <= targetCPUSum))
	} else {
		t.row("  broker", "n/a (no --kafka-pid)", "n/a", "", "", "")
	}
	t.row("Redis memory per customer (INFO used_memory delta)", bytesText(b.infoDeltaPerCustomer), bytesText(e.infoDeltaPerCustomer),
		ratio(e.infoDeltaPerCustomer, b.infoDeltaPerCustomer), fmt.Sprintf("<= %d B", targetMemCustomer), mark(e.infoDeltaPerCustomer <= targetMemCustomer))
	t.row("  MEMORY USAGE per customer key, mean", bytesText(b.mem.mean), bytesText(e.mem.mean), ratio(e.mem.mean, b.mem.mean), "", "")
	t.row("clienting peak RSS (VmHWM) after end to end", mib(b.rss), mib(e.rss), ratio(float64(e.rss), float64(b.rss)), "", "")
	t.row("clienting allocations per event (whole process)", fmt.Sprintf("%.1f", b.allocsPerEvent), fmt.Sprintf("%.1f", e.allocsPerEvent), ratio(e.allocsPerEvent, b.allocsPerEvent), "", "")
	t.row("transitions published per input event (same work?)", fmt.Sprintf("%.2f", b.outPerEvent), fmt.Sprintf("%.2f", e.outPerEvent), ratio(e.outPerEvent, b.outPerEvent), "", "")
	t.row("machine CPU busy (all cores)", fmt.Sprintf("%.0f %%", 100*b.hostBusy), fmt.Sprintf("%.0f %%", 100*e.hostBusy), "", "", "")
	t.row("time from /readyz to all offsets committed", dur(b.duration), dur(e.duration), "", "", "")
	return t
}

// rows adds the processor's view of a phase to t.
func (b breakdown) rows(t *table) {
	ms := func(s float64) string { return dur(time.Duration(s * float64(time.Second))) }
	t.row("  batches: count, mean messages, mean duration", fmt.Sprintf("%s, %.0f, %s", thousands(b.batches), b.meanBatch, ms(b.meanBatchSeconds)), "", "")
	ops := func(system string, times []opTime) {
		if len(times) == 0 {
			return
		}
		var names, values []string
		for _, o := range times {
			names = append(names, o.op)
			values = append(values, ms(o.seconds))
		}
		t.row("  per batch, "+system+" "+strings.Join(names, ", "), strings.Join(values, ", "), "", "")
	}
	ops("redis", b.redis)
	ops("kafka", b.kafka)
	if n := b.cacheHits + b.cacheMisses; n > 0 {
		t.row("  state cache: hits / lookups", fmt.Sprintf("%.1f %% of %s", 100*b.cacheHits/n, thousands(n)), "", "")
	}
	t.row("  time-driven sweeps: customers, sweeps, mean duration", fmt.Sprintf("%s, %s, %s", thousands(b.swept), thousands(b.sweeps), ms(b.meanSweepSeconds)), "", "")
}

// table is a markdown table with aligned columns and section rows.
type table struct {
	head []string
	rows [][]string
}

func (t *table) section(title string) { t.rows = append(t.rows, []string{"**" + title + "**"}) }

// row adds a row of len(t.head) cells.
func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	width := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.head)
	sep := make([]string, len(width))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func rate(v float64) string { return thousands(v) + " events/s" }

func perM(s float64) string { return fmt.Sprintf("%.1f s per million events", s) }

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func bytesText(b float64) string { return thousands(b) + " B" }

// thousands formats v rounded to an integer with thousands separators (or
// with one decimal under 100).
func thousands(v float64) string {
	if v < 100 && v != float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
