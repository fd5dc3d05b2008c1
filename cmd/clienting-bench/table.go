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

// Targets of the performance issue.
const (
	targetRatio       = 0.70                  // end to end / lower ceiling
	targetP99         = 50 * time.Millisecond // at half capacity
	targetMemCustomer = 400                   // bytes of Redis memory per customer
)

// results are every figure of a run.
type results struct {
	started            time.Time
	took               time.Duration
	loadStart, loadEnd string
	cpus               int

	events, customers, partitions, batchSize int
	outputPartitions                         int
	model                                    bool // the end-to-end run had a fitted model

	produceRate       float64
	kafkaCeiling      float64
	redisCeiling      float64
	redisCeilingCPU   float64 // Redis CPU seconds per million events
	redisBenchmark    float64
	redisBenchmarkErr string

	join, firstCommit time.Duration
	e2eDuration       time.Duration
	e2eRate           float64
	cpuPerM           float64
	redisCPUPerM      float64
	kafkaCPUPerM      float64       // 0: unknown (no --kafka-pid)
	redisCommands     []commandCost // the commands that took the most Redis time end to end
	hostBusy          float64
	allocsPerEvent    float64
	bytesPerEvent     float64
	outPerEvent       float64 // transitions published per input event
	e2eBreakdown      breakdown
	latBreakdown      breakdown
	latOutPerEvent    float64
	newShare          float64
	sets              []string // --set passed to clienting run
	latDuration       time.Duration
	latWarmup         time.Duration
	rssE2E, rssPeak   int64

	infoDeltaPerCustomer float64
	listpack             string // the server's hash-max-listpack-entries / value
	mem                  memorySample

	lat latencyResult

	micro []micro
}

func (r *results) ceiling() float64 { return min(r.kafkaCeiling, r.redisCeiling) }

// print writes the table.
func (r *results) print(w io.Writer) {
	var t table
	t.section("Ceilings (same run)")
	t.row("Kafka consume, Client.Fetch per partition, no processing", rate(r.kafkaCeiling), "", "")
	t.row(fmt.Sprintf("Redis apply script, ApplyBatch of %d, %d concurrent", r.batchSize, r.partitions), rate(r.redisCeiling), "", "")
	t.row("  Redis CPU in the apply ceiling", fmt.Sprintf("%.1f s per million events", r.redisCeilingCPU), "", "")
	if r.redisBenchmarkErr != "" {
		t.row("redis-benchmark SET -P 16 (reference)", "n/a: "+r.redisBenchmarkErr, "", "")
	} else {
		t.row("redis-benchmark SET -P 16 (reference)", fmt.Sprintf("%s ops/s", thousands(r.redisBenchmark)), "", "")
	}

	scoring := "no model yet: recency heuristic"
	if r.model {
		scoring = "with a fitted model"
	}
	t.section(fmt.Sprintf("End to end: clienting run on %s pre-produced events, %s customers (%s)", thousands(float64(r.events)), thousands(float64(r.customers)), scoring))
	t.row("group join (start to /readyz 200), not counted", dur(r.join), "", "")
	t.row("first commit after /readyz", dur(r.firstCommit), "", "")
	t.row("time from /readyz to all offsets committed", dur(r.e2eDuration), "", "")
	t.row("throughput", rate(r.e2eRate), "", "")
	if c := r.ceiling(); c > 0 {
		ratio := r.e2eRate / c
		t.row("throughput / lower ceiling", fmt.Sprintf("%.0f %%", 100*ratio), fmt.Sprintf(">= %.0f %%", 100*targetRatio), mark(ratio >= targetRatio))
	}
	t.row("clienting CPU (utime+stime)", fmt.Sprintf("%.1f s per million events", r.cpuPerM), "", "")
	t.row("Redis CPU", fmt.Sprintf("%.1f s per million events", r.redisCPUPerM), "", "")
	for _, c := range r.redisCommands {
		t.row("  Redis "+strings.ToUpper(c.name)+" (INFO commandstats)", fmt.Sprintf("%.1f µs per event, %.1f µs per call", c.usecPerEvent, c.perCall), "", "")
	}
	if r.kafkaCPUPerM > 0 {
		t.row("Kafka broker CPU", fmt.Sprintf("%.1f s per million events", r.kafkaCPUPerM), "", "")
	}
	t.row("machine CPU busy (all cores, all processes)", fmt.Sprintf("%.0f %% of %d cores", 100*r.hostBusy, r.cpus), "", "")
	t.row("clienting allocations (whole process)", fmt.Sprintf("%.1f allocs, %s B per event", r.allocsPerEvent, thousands(r.bytesPerEvent)), "", "")
	t.row("clienting peak RSS (VmHWM) after end to end", mib(r.rssE2E), "", "")
	t.row("transitions published per input event", fmt.Sprintf("%.2f", r.outPerEvent), "", "")
	r.e2eBreakdown.rows(&t)

	load := "half capacity"
	if math.Abs(r.lat.target-r.e2eRate/2) > 1 {
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

	t.section("Redis memory per customer (default configuration)")
	m := r.mem
	t.row(fmt.Sprintf("MEMORY USAGE of %d sampled customer hashes: mean", m.n), bytesText(m.mean), fmt.Sprintf("<= %d B", targetMemCustomer), mark(m.n > 0 && m.mean <= targetMemCustomer))
	t.row("  p50 / max", bytesText(m.p50)+" / "+bytesText(m.max), "", "")
	t.row("  encoding listpack / hashtable", fmt.Sprintf("%d / %d", m.listpack, m.other), "", "")
	t.row("  fields per hash: mean / max", fmt.Sprintf("%.1f / %.0f", m.fieldsMean, m.fldMx), "", "")
	t.row("  this server's hash-max-listpack-entries / value", r.listpack, "", "")
	t.row("INFO used_memory delta of the run / customers", bytesText(r.infoDeltaPerCustomer), fmt.Sprintf("<= %d B", targetMemCustomer), mark(r.infoDeltaPerCustomer <= targetMemCustomer))

	if len(r.micro) > 0 {
		t.section("Go micro-benchmarks (go test -bench -benchmem)")
		for _, b := range r.micro {
			target, ok := "", ""
			if isDecodeOrScore(b.name) {
				target, ok = "0 allocs", mark(b.allocsPerOp == 0)
			}
			v := fmt.Sprintf("%s ns/op  %.0f B/op  %.0f allocs/op", thousands(b.nsPerOp), b.bytesPerOp, b.allocsPerOp)
			if b.redisMicros > 0 {
				v = fmt.Sprintf("%s ns/event  %.1f µs of Redis per call", thousands(b.nsPerOp), b.redisMicros)
			}
			t.row(b.name, v, target, ok)
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
	fmt.Fprintln(w, "Latency is Kafka timestamp of the segment change (clienting's producer) minus that of the input event (this program): both from this machine's clock.")
	fmt.Fprintln(w)
	t.write(w)
}

// rows adds the processor's view of a phase to t.
func (b breakdown) rows(t *table) {
	ms := func(s float64) string { return dur(time.Duration(s * float64(time.Second))) }
	t.row("  batches: count, mean messages, mean duration", fmt.Sprintf("%s, %.0f, %s", thousands(b.batches), b.meanBatch, ms(b.meanBatchSeconds)), "", "")
	t.row("  per batch: redis apply, record; kafka fetch, produce, commit",
		fmt.Sprintf("%s, %s; %s, %s, %s", ms(b.apply), ms(b.record), ms(b.fetch), ms(b.produce), ms(b.commit)), "", "")
	t.row("  time-driven sweeps: customers, sweeps, mean duration", fmt.Sprintf("%s, %s, %s", thousands(b.swept), thousands(b.sweeps), ms(b.meanSweepSeconds)), "", "")
}

func isDecodeOrScore(name string) bool {
	return strings.HasPrefix(name, "Decode/") || strings.HasPrefix(name, "Evaluate/") ||
		strings.HasPrefix(name, "DecodeCustomer/") || strings.HasPrefix(name, "HotPath/")
}

// table is a markdown table with aligned columns and section rows.
type table struct {
	rows [][4]string
}

func (t *table) section(title string) { t.rows = append(t.rows, [4]string{"**" + title + "**"}) }

func (t *table) row(name, value, target, ok string) {
	t.rows = append(t.rows, [4]string{name, value, target, ok})
}

func (t *table) write(w io.Writer) {
	head := [4]string{"figure", "value", "target", ""}
	width := [4]int{}
	for _, r := range append([][4]string{head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(r [4]string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(head)
	var sep [4]string
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
