package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/shop"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

const demoUsage = `usage: clienting demo [flags]

Runs everything in one process for a first look: an embedded Kafka-protocol
broker (franz-go's kfake) and an embedded Redis (miniredis), both on
loopback, a simulated shop publishing customer events through the Kafka
protocol, and the real processor with its HTTP endpoints (/metrics,
/healthz, /readyz and the API).

Time is simulated: it starts --history before now and runs --speed faster
than real time, so months of customer history (acquisitions, repeat
purchases, customers going quiet and churning) pass in a minute. Every
--every the demo prints the simulated date, events published and
processed, segment populations, churn-risk counts, the latest transitions
and a few KPIs. It stops after --duration or on Ctrl-C, lets the processor
finish and commit, and prints a final summary. Nothing is kept.

--speed is simulated time per real second: a duration ("6d", "12h"), a
factor ("3600x"), or slow (1d), normal (6d), fast or high (30d).

Flags:
`

type demoOptions struct {
	duration   time.Duration
	customers  int
	speed      time.Duration // simulated time per real second
	history    time.Duration
	seed       uint64
	http       string
	every      time.Duration
	partitions int
	logLevel   string
	cfgPath    string
	sets       multiFlag
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	var o demoOptions
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long to run; 0 runs until Ctrl-C")
	fs.IntVar(&o.customers, "customers", 3000, "customers of the simulated shop")
	speed := speedFlag(6 * shop.Day)
	fs.Var(&speed, "speed", "simulated time per real second: e.g. 6d, 12h, 3600x, slow, normal, fast")
	history := daysFlag(365 * shop.Day)
	fs.Var(&history, "history", "how long before now simulated time starts, e.g. 365d")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the shop")
	fs.StringVar(&o.http, "http", "127.0.0.1:8080", "HTTP listen `address` for /metrics and the API (:0 picks a free port)")
	fs.DurationVar(&o.every, "every", 2*time.Second, "how often to print the summary")
	fs.IntVar(&o.partitions, "partitions", 4, "partitions of the embedded topics")
	fs.StringVar(&o.logLevel, "log-level", "warn", "processor log level on stderr: debug, info, warn, error")
	fs.StringVar(&o.cfgPath, "config", "", "YAML configuration `file` for scoring and processing (optional; kafka, redis and http are the demo's)")
	fs.Var(&o.sets, "set", "override a configuration `key=value` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	o.speed, o.history = time.Duration(speed), time.Duration(history)
	switch {
	case o.duration < 0:
		return fmt.Errorf("demo: --duration: %s must not be negative", o.duration)
	case o.customers <= 0:
		return fmt.Errorf("demo: --customers: %d must be positive", o.customers)
	case o.every <= 0:
		return fmt.Errorf("demo: --every: %s must be positive", o.every)
	case o.partitions <= 0:
		return fmt.Errorf("demo: --partitions: %d must be positive", o.partitions)
	}
	return runDemo(ctx, o, stdout, stderr)
}

// speedFlag is simulated time per real second.
type speedFlag time.Duration

func (s *speedFlag) String() string { return formatDays(time.Duration(*s)) }

func (s *speedFlag) Set(v string) error {
	switch v {
	case "slow":
		*s = speedFlag(shop.Day)
		return nil
	case "normal":
		*s = speedFlag(6 * shop.Day)
		return nil
	case "fast", "high":
		*s = speedFlag(30 * shop.Day)
		return nil
	}
	if n, ok := strings.CutSuffix(v, "x"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || f <= 0 || f > 1e9 {
			return fmt.Errorf("%q is not a positive factor (e.g. 3600x)", v)
		}
		*s = speedFlag(time.Duration(f * float64(time.Second)))
		return nil
	}
	d, err := parseDays(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a speed: a duration per second (6d, 12h), a factor (3600x), slow, normal or fast", v)
	}
	*s = speedFlag(d)
	return nil
}

// simClock is the demo's accelerated clock: simulated time runs speed per
// real second from start.
type simClock struct {
	realStart time.Time
	simStart  time.Time
	factor    float64
}

func (c *simClock) Now() time.Time {
	return c.simStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.factor))
}

// demoTopics are the topics the embedded broker is seeded with.
func demoTopics(pc Config) []string {
	t := pc.processorConfig()
	_ = t.Validate() // applies the defaults
	out := slices.Clone(t.Topics.Input)
	for _, in := range t.Topics.Input {
		out = append(out, in+t.Topics.DeadLetterSuffix)
	}
	return append(out, t.Topics.SegmentChanges, t.Topics.ChurnRisk, t.Topics.Recovery)
}

func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(o.cfgPath, nil, o.sets)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg.Log = LogConfig{Level: o.logLevel, Format: "text"}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("demo: --log-level: %w", err)
	}
	log := newLogger(cfg.Log, stderr)

	// the embedded servers
	topics := demoTopics(cfg)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(o.partitions), topics...))
	if err != nil {
		return fmt.Errorf("demo: start the embedded Kafka (kfake): %w", err)
	}
	defer kc.Close()
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("demo: start the embedded Redis (miniredis): %w", err)
	}
	defer mr.Close()
	brokers := kc.ListenAddrs()

	cfg.Kafka.Brokers = brokers
	cfg.Kafka.GroupID = "clienting-demo"
	cfg.Kafka.TLS, cfg.Kafka.SASL = TLSConfig{}, SASLConfig{}
	cfg.Kafka.SessionTimeout, cfg.Kafka.HeartbeatInterval, cfg.Kafka.RebalanceTimeout = 10*time.Second, time.Second, 10*time.Second
	cfg.Redis = RedisConfig{Addrs: []string{mr.Addr()}, Prefix: cfg.Redis.Prefix, PoolSize: 2*o.partitions + 4}
	cfg.Processor.SweepInterval = time.Second
	cfg.Processor.ShutdownTimeout = 10 * time.Second
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return fmt.Errorf("demo: --http: %w (pick another address, e.g. --http 127.0.0.1:0)", err)
	}
	defer func() { _ = ln.Close() }()

	now := time.Now().UTC()
	clock := &simClock{
		realStart: now,
		simStart:  now.Add(-o.history).Truncate(shop.Day),
		factor:    float64(o.speed) / float64(time.Second),
	}
	a, err := newApp(cfg, log, appOptions{now: clock.Now})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	a.listener = ln

	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = probeRedis(pctx, a.store, a.rdb)
	cancel()
	if err != nil {
		_ = a.rdb.Close()
		return fmt.Errorf("demo: the embedded Redis (miniredis) cannot run the processor: %w", err)
	}

	base, minor := a.decoder.BaseCurrency(), a.decoder.MinorUnits()
	s, err := shop.New(shop.Config{
		Seed: o.seed, Customers: o.customers, Start: clock.simStart,
		Acquisition: o.history, MinorUnits: min(minor, 6), IDPrefix: "",
	})
	if err != nil {
		_ = a.rdb.Close()
		return fmt.Errorf("demo: %w", err)
	}
	d := &demo{
		o: o, cfg: cfg, app: a, clock: clock, shop: s, out: stdout, log: log, brokers: brokers,
		base: base, minor: minor, board: newBoard(cfg.Scoring),
	}
	fmt.Fprintf(stdout, "clienting demo %s\n", buildVersion())
	fmt.Fprintf(stdout, "  kafka  (embedded kfake)      %s  topics %s, %d partitions each\n", strings.Join(brokers, ","), strings.Join(topics, " "), o.partitions)
	fmt.Fprintf(stdout, "  redis  (embedded miniredis)  %s  probe ok: apply script (binary ids, HGETALL/HSET/HDEL, exact sums past 2^53, math.floor), HGETALL, HSET, ZADD, ZREM, ZRANGE BYSCORE LIMIT, ZCOUNT\n", mr.Addr())
	fmt.Fprintf(stdout, "  http   http://%s/metrics  http://%s/readyz\n", ln.Addr(), ln.Addr())
	until := "Ctrl-C stops"
	if o.duration > 0 {
		until = "for " + o.duration.String() + " (Ctrl-C stops early)"
	}
	fmt.Fprintf(stdout, "  shop   %d customers joining over %s from %s; %s of simulated time per second, %s\n\n",
		o.customers, formatDays(o.history), clock.simStart.Format(time.DateOnly), formatDays(o.speed), until)
	return d.run(ctx)
}

// demo is one running demo.
type demo struct {
	o       demoOptions
	cfg     Config
	app     *app
	clock   *simClock
	shop    *shop.Shop
	out     io.Writer
	log     *slog.Logger
	brokers []string
	base    string
	minor   int
	board   *board

	published atomic.Int64
	kpi       kpis // publisher's view of the input, under board.mu
}

func (d *demo) run(ctx context.Context) error {
	began := time.Now()
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()
	appDone := make(chan error, 1)
	go func() { appDone <- d.app.run(procCtx) }()

	pubStop := make(chan struct{})
	var stopPubOnce sync.Once
	stopPub := func() { stopPubOnce.Do(func() { close(pubStop) }) }
	defer stopPub()
	pubDone := make(chan error, 1)
	go func() { pubDone <- d.publish(ctx, pubStop) }()

	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	var watchers sync.WaitGroup
	pc := d.cfg.processorConfig()
	_ = pc.Validate()
	readers := d.watch(watchCtx, &watchers, pc.Topics.SegmentChanges, pc.Topics.ChurnRisk, pc.Topics.Recovery)

	var deadline <-chan time.Time
	if d.o.duration > 0 {
		timer := time.NewTimer(d.o.duration)
		defer timer.Stop()
		deadline = timer.C
	}
	tick := time.NewTicker(d.o.every)
	defer tick.Stop()
	var runErr error
	interrupted := false
loop:
	for {
		select {
		case <-tick.C:
			d.print(false, time.Since(began))
		case <-deadline:
			break loop
		case <-ctx.Done():
			interrupted = true
			break loop
		case err := <-appDone:
			appDone <- err
			runErr = fmt.Errorf("demo: the processor stopped: %w", err)
			if err == nil {
				runErr = errors.New("demo: the processor stopped unexpectedly")
			}
			break loop
		case err := <-pubDone:
			pubDone <- err
			if err != nil {
				runErr = fmt.Errorf("demo: publish: %w", err)
				break loop
			}
		}
	}

	// stop the shop, let the processor catch up (unless interrupted), stop
	// it (it finishes and commits its batches), then read the last output
	stopPub()
	if err := <-pubDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("demo: publish: %w", err)
	}
	if !interrupted && runErr == nil {
		fmt.Fprintln(d.out, "demo: stopping: letting the processor catch up ...")
		wait(10*time.Second, func() bool { return d.processed().total >= d.published.Load() })
	} else {
		fmt.Fprintln(d.out, "demo: stopping ...")
	}
	stopProc()
	if err := <-appDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("demo: processor: %w", err)
	}
	readers.catchUp(5 * time.Second)
	stopWatch()
	watchers.Wait()
	d.print(true, time.Since(began))
	return runErr
}

// wait polls cond every 50 ms until it holds or timeout passes.
func wait(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// publish emits the shop's events up to the simulated now, every 100 ms,
// through the Kafka protocol, until stop is closed or ctx ends. A write in
// flight is finished either way, so the published count is exact.
func (d *demo) publish(ctx context.Context, stop <-chan struct{}) error {
	pc := d.cfg.processorConfig()
	_ = pc.Validate()
	w := newWriter(d.brokers, pc.Topics.Input[0])
	defer func() { _ = w.Close() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var evs []events.Event
	var msgs []kafka.Message
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-tick.C:
		}
		now := d.clock.Now()
		evs = d.shop.Until(evs[:0], now)
		for len(evs) > 0 {
			n := min(len(evs), 2000)
			msgs = msgs[:0]
			for i := range evs[:n] {
				msgs = append(msgs, kafka.Message{Key: []byte(evs[i].CustomerID), Value: evs[i].AppendJSON(nil, d.minor, d.base)})
			}
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := w.WriteMessages(wctx, msgs...)
			cancel()
			if err != nil {
				return err
			}
			d.published.Add(int64(n))
			d.board.mu.Lock()
			for i := range evs[:n] {
				d.kpi.add(&evs[i])
			}
			d.board.mu.Unlock()
			evs = evs[n:]
		}
		d.board.mu.Lock()
		d.kpi.simNow = now
		d.board.mu.Unlock()
	}
}

// kpis are computed from the published input.
type kpis struct {
	simNow       time.Time
	joined       map[string]bool
	lastPurchase map[string]time.Time
	dayRevenue   map[int64]int64 // net money by simulated day
}

func (k *kpis) add(ev *events.Event) {
	if k.joined == nil {
		k.joined, k.lastPurchase, k.dayRevenue = map[string]bool{}, map[string]time.Time{}, map[int64]int64{}
	}
	if ev.Type != events.TypePurchase {
		return
	}
	day := ev.Time.Unix() / 86400
	if ev.Purchase.Refund {
		k.dayRevenue[day] -= ev.Purchase.Amount
		return
	}
	k.joined[ev.CustomerID] = true
	k.lastPurchase[ev.CustomerID] = ev.Time
	k.dayRevenue[day] += ev.Purchase.Amount
}

// buyers counts customers with a purchase in the last days; revenue sums
// net money of the last days.
func (k *kpis) window(days int) (buyers int, revenue int64) {
	from := k.simNow.Add(-time.Duration(days) * shop.Day)
	for _, t := range k.lastPurchase {
		if t.After(from) {
			buyers++
		}
	}
	first := from.Unix() / 86400
	for d, v := range k.dayRevenue {
		if d > first {
			revenue += v
		}
	}
	return buyers, revenue
}

// processedCounts are the processor's event counters.
type processedCounts struct {
	total, applied, duplicates, deadLettered int64
}

func (d *demo) processed() processedCounts { return eventCounts(d.app.reg) }

// eventCounts sums the processor's clienting_events_total by outcome.
func eventCounts(reg prometheus.Gatherer) processedCounts {
	var c processedCounts
	mfs, err := reg.Gather()
	if err != nil {
		return c
	}
	for _, mf := range mfs {
		if mf.GetName() != "clienting_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := int64(m.GetCounter().GetValue())
			c.total += v
			for _, l := range m.GetLabel() {
				if l.GetName() != "outcome" {
					continue
				}
				switch l.GetValue() {
				case "applied":
					c.applied += v
				case "duplicate", "redelivery":
					c.duplicates += v
				case "dead_lettered":
					c.deadLettered += v
				}
			}
		}
	}
	return c
}

// board is the demo's view of the output topics: the latest segment of
// every customer per segmentation, churn levels, recoveries, and the last
// transitions.
type board struct {
	mu           sync.Mutex
	order        []string            // segmentations in configuration order, then churn
	segments     map[string][]string // known segments per segmentation, in rule order
	current      map[string]map[string]string
	seq          map[string]int64 // customer -> last sequence seen
	counts       map[string]map[string]int
	transitions  int
	first        int // first assignments (from none)
	byTime       int
	recoveries   map[string]int
	byEvent      []transition // latest moves caused by events
	byTimeRecent []transition // latest moves caused by time
}

type transition struct {
	customer, segmentation, from, to, cause string
	at                                      time.Time
}

func newBoard(sc scoring.Config) *board {
	b := &board{
		segments:   map[string][]string{},
		current:    map[string]map[string]string{},
		seq:        map[string]int64{},
		counts:     map[string]map[string]int{},
		recoveries: map[string]int{},
	}
	for _, s := range sc.Segmentations {
		b.order = append(b.order, s.Name)
		for _, r := range s.Rules {
			if !slices.Contains(b.segments[s.Name], r.Segment) {
				b.segments[s.Name] = append(b.segments[s.Name], r.Segment)
			}
		}
		def := s.Default
		if def == "" {
			def = "other"
		}
		if !slices.Contains(b.segments[s.Name], def) {
			b.segments[s.Name] = append(b.segments[s.Name], def)
		}
	}
	b.order = append(b.order, scoring.ChurnKey)
	b.segments[scoring.ChurnKey] = []string{events.RiskLow, events.RiskMedium, events.RiskHigh}
	return b
}

// apply records a transition of customer in segmentation (ChurnKey for
// churn risk); seq orders them, repeats of a sequence are dropped.
func (b *board) apply(customer, segmentation, from, to string, seq int64, cause events.Cause, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := customer + "\x00" + segmentation
	if last, ok := b.seq[key]; ok && seq <= last {
		return // a repeated publish (same deterministic id)
	}
	b.seq[key] = seq
	cur := b.current[segmentation]
	if cur == nil {
		cur = map[string]string{}
		b.current[segmentation] = cur
		b.counts[segmentation] = map[string]int{}
		if !slices.Contains(b.order, segmentation) {
			b.order = append(b.order, segmentation)
		}
	}
	if prev, ok := cur[customer]; ok {
		b.counts[segmentation][prev]--
	}
	cur[customer] = to
	b.counts[segmentation][to]++
	if !slices.Contains(b.segments[segmentation], to) {
		b.segments[segmentation] = append(b.segments[segmentation], to)
	}
	b.transitions++
	if from == "" {
		b.first++
		return // a first assignment: counted, not listed
	}
	t := transition{customer: customer, segmentation: segmentation, from: from, to: to, cause: "event " + cause.EventID, at: at}
	ring := &b.byEvent
	if cause.Kind == events.CauseTime {
		b.byTime++
		t.cause = "time"
		ring = &b.byTimeRecent
	}
	*ring = append(*ring, t)
	if len(*ring) > 4 {
		*ring = (*ring)[len(*ring)-4:]
	}
}

// recent returns the latest moves (first assignments left out): a few
// caused by events and a few caused by time, in time order.
func (b *board) recent() []transition {
	out := append(slices.Clone(b.byEvent), b.byTimeRecent...)
	slices.SortStableFunc(out, func(x, y transition) int { return x.at.Compare(y.at) })
	return out
}

// readerSet tails output topics partition by partition.
type readerSet struct {
	readers []*kafka.Reader
	next    []atomic.Int64 // next offset per reader
	brokers []string
	topics  []string
	parts   []int
}

// watch starts one reader per partition of each topic.
func (d *demo) watch(ctx context.Context, wg *sync.WaitGroup, topics ...string) *readerSet {
	rs := &readerSet{brokers: d.brokers}
	for _, topic := range topics {
		for p := range d.o.partitions {
			rs.readers = append(rs.readers, kafka.NewReader(kafka.ReaderConfig{
				Brokers: d.brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 4 << 20,
				MaxWait: 200 * time.Millisecond,
			}))
			rs.topics = append(rs.topics, topic)
			rs.parts = append(rs.parts, p)
		}
	}
	rs.next = make([]atomic.Int64, len(rs.readers))
	pc := d.cfg.processorConfig()
	_ = pc.Validate()
	for i, r := range rs.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = r.Close() }()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						d.log.Warn("demo: read output", "topic", rs.topics[i], "err", err)
					}
					return
				}
				rs.next[i].Store(m.Offset + 1)
				d.consume(rs.topics[i], pc.Topics, m.Value)
			}
		}()
	}
	return rs
}

// catchUp waits until every reader has read to the partition's end.
func (rs *readerSet) catchUp(timeout time.Duration) {
	client := &kafka.Client{Addr: kafka.TCP(rs.brokers...), Timeout: 5 * time.Second}
	req := map[string][]kafka.OffsetRequest{}
	for i, t := range rs.topics {
		req[t] = append(req[t], kafka.LastOffsetOf(rs.parts[i]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return
	}
	wait(timeout, func() bool {
		for i, t := range rs.topics {
			for _, po := range res.Topics[t] {
				if po.Partition == rs.parts[i] && rs.next[i].Load() < po.LastOffset {
					return false
				}
			}
		}
		return true
	})
}

func (d *demo) consume(topic string, t processor.Topics, value []byte) {
	switch topic {
	case t.SegmentChanges:
		var c events.SegmentChange
		if err := c.UnmarshalJSON(value); err != nil {
			d.log.Warn("demo: bad segment change", "err", err)
			return
		}
		d.board.apply(c.CustomerID, c.Segmentation, c.From, c.To, c.Sequence, c.Cause, c.EventTime)
	case t.ChurnRisk:
		var r events.ChurnRisk
		if err := r.UnmarshalJSON(value); err != nil {
			d.log.Warn("demo: bad churn-risk change", "err", err)
			return
		}
		d.board.apply(r.CustomerID, scoring.ChurnKey, r.From, r.To, r.Sequence, r.Cause, r.EventTime)
	case t.Recovery:
		var r events.Recovery
		if err := r.UnmarshalJSON(value); err != nil {
			d.log.Warn("demo: bad recovery event", "err", err)
			return
		}
		d.board.mu.Lock()
		d.board.recoveries[r.Priority]++
		d.board.mu.Unlock()
	}
}

// print writes one summary block.
func (d *demo) print(final bool, elapsed time.Duration) {
	pc := d.processed()
	b := d.board
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	simNow := d.kpi.simNow
	if simNow.IsZero() {
		simNow = d.clock.simStart
	}
	title := "──"
	if final {
		title = "══ final summary"
	}
	fmt.Fprintf(&sb, "%s %s (simulated day %d) · %s real ────────────\n", title, simNow.Format("2006-01-02 15:04"),
		int(simNow.Sub(d.clock.simStart)/shop.Day)+1, elapsed.Round(100*time.Millisecond))
	pub := d.published.Load()
	fmt.Fprintf(&sb, "events       published %d · processed %d (applied %d, duplicates %d, dead-lettered %d) · behind %d\n",
		pub, pc.total, pc.applied, pc.duplicates, pc.deadLettered, max(pub-pc.total, 0))
	buyers90, _ := d.kpi.window(90)
	_, rev30 := d.kpi.window(30)
	fmt.Fprintf(&sb, "kpis         customers %d · active (bought in 90 days) %d · revenue last 30 days %s %s\n",
		len(d.kpi.joined), buyers90, events.FormatMoney(rev30, d.minor), d.base)
	for _, name := range b.order {
		label := name
		if name == scoring.ChurnKey {
			label = "churn risk"
		}
		fmt.Fprintf(&sb, "%-12s %s\n", label, b.population(name))
	}
	if len(b.recoveries) > 0 {
		keys := make([]string, 0, len(b.recoveries))
		for k := range b.recoveries {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, b.recoveries[k])
		}
		fmt.Fprintf(&sb, "%-12s %s\n", "recoveries", strings.Join(parts, " · "))
	}
	recent := b.recent()
	fmt.Fprintf(&sb, "transitions  %d: %d first assignments, %d moves caused by events, %d by time (no new event)",
		b.transitions, b.first, b.transitions-b.first-b.byTime, b.byTime)
	if len(recent) > 0 {
		sb.WriteString("; latest:")
	}
	sb.WriteByte('\n')
	for _, t := range recent {
		fmt.Fprintf(&sb, "  %s  %-14s %-10s %s -> %s  (%s)\n", t.at.Format(time.DateOnly), t.customer, t.segmentation, t.from, t.to, t.cause)
	}
	sb.WriteByte('\n')
	_, _ = io.WriteString(d.out, sb.String())
}

// population formats the counts of a segmentation: known segments in rule
// order, empty ones left out.
func (b *board) population(name string) string {
	counts := b.counts[name]
	var parts []string
	for _, s := range b.segments[name] {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " · ")
}

// probeRedis runs every store operation the processor uses once against
// Redis with a probe customer, checks the results and deletes the probe.
// miniredis reimplements Redis (and runs Lua with gopher-lua), so this
// fails early, naming the command, instead of corrupting state later.
func probeRedis(ctx context.Context, st *state.Store, rdb redis.UniversalClient) (err error) {
	const topic = "clienting.probe"
	id, old := "clienting-probe {ü}", "clienting-probe-release-1"
	keys := []string{st.CustomerKey(id), st.CustomerKey(old), st.DueKey(topic, 0), st.CheckpointKey(topic, 0),
		st.OutboxKey(topic, 0), st.PopulationKey(topic, 0), st.SegmentsKey(topic, 0)}
	cleanup := func() error { return rdb.Del(context.WithoutCancel(ctx), keys...).Err() }
	if err := cleanup(); err != nil {
		return fmt.Errorf("DEL: %w", err)
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = fmt.Errorf("DEL of the probe's keys: %w", cerr)
		}
	}()

	// a state with a watermark whose bytes hold zeros and bytes >= 0x80,
	// money past 2^53, published segments and a new name
	t0 := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	var s state.State
	s.ID, s.FirstSeen, s.LastEvent = id, t0, t0.Add(time.Hour)
	s.Money, s.Purchases, s.Seq = 1<<53+1, 1, 3
	s.Published = map[string]string{"rfm": "champions", scoring.ChurnKey: "low", "probe": "probe"}
	s.Watermarks = []state.Watermark{{Partition: state.PartitionOf(topic, 0), Offset: 0x80_00_01}}
	due := t0.Add(24 * time.Hour)
	s.Due = due
	value, err := st.AppendValue(ctx, nil, &s)
	if err != nil {
		return fmt.Errorf("EVALSHA of the name script (HGET, HINCRBY, HSET): %w", err)
	}
	box := state.EncodeMessages(nil, []state.Message{{Topic: "probe", Value: []byte("{}")}})
	res, err := st.Write(ctx, &state.Batch{Topic: topic, Checkpoint: true, Expect: state.NoCheckpoint, Next: 42,
		Records: []state.Record{{CustomerID: id, Value: value, Offset: 0x80_00_01, Strict: true, Due: due, DueChanged: true,
			Moves: []state.Move{{Segmentation: "rfm", To: "champions"}}, Outbox: box}}})
	if err != nil {
		return fmt.Errorf("EVALSHA of the write script (GET, SET, HSET of the outbox) in a pipeline with HINCRBY and ZADD: %w", err)
	}
	if res.Lost || res.Ahead || len(res.Fenced) > 0 || res.Checkpoint.Offset != 42 {
		return fmt.Errorf("the write script: %+v, want checkpoint 42 and nothing refused", res)
	}
	// the same value again without the checkpoint is fenced: the
	// watermark's bytes compare
	res, err = st.Write(ctx, &state.Batch{Topic: topic,
		Records: []state.Record{{CustomerID: id, Value: value, Offset: 0x80_00_01, Strict: true}}})
	if err != nil || len(res.Fenced) != 1 {
		return fmt.Errorf("the write script's fence (string.byte over the value): %+v: %w", res, err)
	}
	// a checkpoint other than the expected one refuses the batch
	if res, err = st.Write(ctx, &state.Batch{Topic: topic, Checkpoint: true, Expect: state.NoCheckpoint, Next: 50}); err != nil || !res.Ahead {
		return fmt.Errorf("the write script's checkpoint check: %+v: %w", res, err)
	}
	// a release-1 hash is read with HGETALL after GET fails with WRONGTYPE
	if err := rdb.HSet(ctx, st.CustomerKey(old), "fs", t0.Unix(), "le", t0.Unix(), "n", 2, "m", 500, "p:rfm", "new", "seq", 1).Err(); err != nil {
		return fmt.Errorf("HSET: %w", err)
	}
	loaded, err := st.Load(ctx, []string{id, old, id + "-absent"})
	if err != nil {
		return fmt.Errorf("GET in a pipeline, HGETALL after WRONGTYPE (Load): %w", err)
	}
	c, h := loaded[0].State, loaded[1].State
	if !loaded[0].Found || !loaded[1].Found || loaded[2].Found || c.Seq != 3 || c.Published["rfm"] != "champions" ||
		c.Money != 1<<53+1 || !c.Due.Equal(due) || h.Money != 500 || h.Purchases != 2 || h.Published["rfm"] != "new" {
		return errors.New("GET and HGETALL in a pipeline (Load): the state read back differs from the state written")
	}
	// a write over the hash replaces it (pcall of GET on a hash, DEL, SET)
	hv, err := st.AppendValue(ctx, nil, &h)
	if err != nil {
		return err
	}
	if _, err := st.Write(ctx, &state.Batch{Topic: topic, Records: []state.Record{{CustomerID: old, Value: hv, Offset: 1, Strict: true}}}); err != nil {
		return fmt.Errorf("the write script over a release-1 hash: %w", err)
	}
	if typ := rdb.Type(ctx, st.CustomerKey(old)).Val(); typ != "string" {
		return fmt.Errorf("the write script over a release-1 hash: the key is a %s, want a string", typ)
	}
	ids, err := st.Due(ctx, topic, 0, due, 10)
	if err != nil {
		return fmt.Errorf("ZRANGE key -inf max BYSCORE LIMIT 0 n (Due): %w", err)
	}
	if len(ids) != 1 || ids[0] != id {
		return fmt.Errorf("ZRANGE key -inf max BYSCORE LIMIT 0 n (Due): got %q, want the probe customer", ids)
	}
	if n, err := st.DueBacklog(ctx, topic, 0, due); err != nil {
		return fmt.Errorf("ZCOUNT (DueBacklog): %w", err)
	} else if n != 1 {
		return fmt.Errorf("ZCOUNT (DueBacklog): got %d, want 1", n)
	}
	if _, err := st.Write(ctx, &state.Batch{Topic: topic, Records: []state.Record{{CustomerID: id, DueChanged: true}}}); err != nil {
		return fmt.Errorf("ZREM (Write with no due time): %w", err)
	}
	if n, err := st.DueBacklog(ctx, topic, 0, due); err != nil {
		return fmt.Errorf("ZREM (Write with no due time): %w", err)
	} else if n != 0 {
		return fmt.Errorf("ZREM (Write with no due time): %d customers still due", n)
	}
	return nil
}
