package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/shop"
)

const genUsage = `usage: clienting gen [flags]

Publishes synthetic input events from a simulated shop (internal/shop: a
BG/NBD purchase process with Gamma-Gamma spend, refunds, complaints and
contacts) to a Kafka topic, keyed by customer id, with acks=all and the
processor's partitioner (murmur2). Event times are simulated: they start at
--start and advance so that the customers' history spans --span. Publishing
stops after --count events, after --duration, at the end of the span, or on
Ctrl-C, whichever comes first.

The same --seed and --customers give the same events with the same ids, so
publishing twice sends duplicates (which the processor drops while they
are within dedupe.window of event time of the customer's latest event). Use
another --seed for fresh data.

Flags:
`

func genCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, genUsage); fs.PrintDefaults() }
	brokers := fs.String("brokers", envOr("CLIENTING_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka bootstrap `addresses`, comma separated; CLIENTING_KAFKA_BROKERS sets the default")
	topic := fs.String("topic", "customer.events", "input `topic` to publish to")
	rate := fs.Float64("rate", 1000, "events per second; 0 publishes as fast as the broker takes them")
	count := fs.Int("count", 100000, "number of events to publish")
	duration := fs.Duration("duration", 5*time.Minute, "stop after this long at most")
	customers := fs.Int("customers", 10000, "customers of the simulated shop")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same events")
	startFlag := fs.String("start", "", "simulated `time` of the first event: RFC 3339 or YYYY-MM-DD (default: --span before now)")
	span := daysFlag(365 * shop.Day)
	fs.Var(&span, "span", "simulated time the customers' history spans, e.g. 365d or 720h")
	currency := fs.String("currency", envOr("CLIENTING_EVENTS_BASE_CURRENCY", events.DefaultBaseCurrency), "ISO 4217 `code` of the amounts (the processor's base currency or one it has a rate for)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gen: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *rate < 0:
		return fmt.Errorf("gen: --rate: %v must not be negative", *rate)
	case *count <= 0:
		return fmt.Errorf("gen: --count: %d must be positive", *count)
	case *duration < 0:
		return fmt.Errorf("gen: --duration: %s must not be negative", *duration)
	case *customers <= 0:
		return fmt.Errorf("gen: --customers: %d must be positive", *customers)
	case time.Duration(span) <= 0:
		return fmt.Errorf("gen: --span: %s must be positive", time.Duration(span))
	}
	minor, err := currencyMinorUnits(*currency)
	if err != nil {
		return fmt.Errorf("gen: --currency: %w", err)
	}
	start := time.Now().UTC().Add(-time.Duration(span)).Truncate(time.Second)
	if *startFlag != "" {
		if start, err = parseStart(*startFlag); err != nil {
			return fmt.Errorf("gen: --start: %w", err)
		}
	}
	s, err := shop.New(shop.Config{
		Seed: *seed, Customers: *customers, Start: start,
		// customers join over the first 80 % of the span, so the last
		// ones still have some history
		Acquisition: time.Duration(span) * 4 / 5,
		End:         start.Add(time.Duration(span)),
		MinorUnits:  min(minor, 6),
	})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	addrs := splitList(*brokers)
	if len(addrs) == 0 {
		return errors.New("gen: --brokers: at least one address is required")
	}

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	w := newWriter(addrs, *topic)
	defer func() { _ = w.Close() }()

	fmt.Fprintf(stdout, "gen: publishing up to %d events of %d customers to %s on %s (%s)\n",
		*count, *customers, *topic, strings.Join(addrs, ","), rateText(*rate))
	prog := newProgress(stdout)
	var (
		sent     int
		byType   = map[events.Type]int{}
		seen     = map[string]bool{}
		lastTime time.Time
		batch    []kafka.Message
		buf      []byte
		ended    bool
	)
	began := time.Now()
	batchSize := 500
	if *rate > 0 {
		batchSize = max(1, min(500, int(*rate/20))) // about 20 writes a second
	}
	var werr error
	for sent < *count && ctx.Err() == nil {
		batch = batch[:0]
		buf = buf[:0]
		offsets := make([]int, 0, batchSize)
		for len(batch) < batchSize && sent+len(batch) < *count {
			ev, ok := s.Next()
			if !ok {
				ended = true
				break
			}
			byType[ev.Type]++
			seen[ev.CustomerID] = true
			lastTime = ev.Time
			offsets = append(offsets, len(buf))
			buf = ev.AppendJSON(buf, minor, *currency)
			batch = append(batch, kafka.Message{Key: []byte(ev.CustomerID)})
		}
		if len(batch) == 0 {
			break
		}
		for i := range batch {
			end := len(buf)
			if i+1 < len(offsets) {
				end = offsets[i+1]
			}
			batch[i].Value = buf[offsets[i]:end]
		}
		if *rate > 0 {
			// pace: the batch may leave when the rate allows its last event
			due := began.Add(time.Duration(float64(sent+len(batch)) / *rate * float64(time.Second)))
			if err := sleepUntil(ctx, due); err != nil {
				break
			}
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			if ctx.Err() == nil {
				werr = fmt.Errorf("gen: publish to %s: %w%s", *topic, err, topicHint(err))
			}
			break
		}
		sent += len(batch)
		prog.update(func() string {
			el := time.Since(began)
			return fmt.Sprintf("gen: %d/%d events  %.0f events/s  simulated %s", sent, *count,
				float64(sent)/max(el.Seconds(), 1e-9), lastTime.Format("2006-01-02"))
		})
		if ended {
			break
		}
	}
	prog.done()
	elapsed := time.Since(began)
	fmt.Fprintf(stdout, "gen: published %d events of %d customers in %s (%.0f events/s)\n",
		sent, len(seen), elapsed.Round(time.Millisecond), float64(sent)/max(elapsed.Seconds(), 1e-9))
	types := make([]events.Type, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(stdout, "  %-10s %d\n", t, byType[t])
	}
	if sent > 0 {
		fmt.Fprintf(stdout, "  simulated  %s .. %s\n", start.Format(time.RFC3339), lastTime.Format(time.RFC3339))
	}
	switch {
	case werr != nil:
		return werr
	case sent < *count && ended:
		fmt.Fprintf(stdout, "gen: the simulated span ended after %d events; raise --customers or --span for more\n", sent)
	case sent < *count && errors.Is(ctx.Err(), context.DeadlineExceeded):
		fmt.Fprintf(stdout, "gen: stopped by --duration %s\n", *duration)
	case sent < *count:
		fmt.Fprintln(stdout, "gen: interrupted")
	}
	return nil
}

func rateText(rate float64) string {
	if rate == 0 {
		return "as fast as possible"
	}
	return strconv.FormatFloat(rate, 'f', -1, 64) + " events/s"
}

// newWriter is a producer like the processor's: acks=all, murmur2 keyed
// partitioning (as Java clients partition), short batch timeout. It has a
// transport of its own: kafka-go's shared default transport caches topic
// metadata for seconds, so a topic created just before would look missing.
func newWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Transport:    &kafka.Transport{MetadataTTL: time.Second},
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    1000,
		BatchBytes:   16 << 20,
		MaxAttempts:  5,
	}
}

// topicHint explains the usual cause of a failed first write.
func topicHint(err error) string {
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return " (create the topic first, e.g. with kafka-topics.sh --create)"
	}
	return ""
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// currencyMinorUnits returns the ISO 4217 minor unit of code, as the
// processor's decoder would use it.
func currencyMinorUnits(code string) (int, error) {
	d, err := events.NewDecoder(events.DecoderConfig{BaseCurrency: code})
	if err != nil {
		return 0, fmt.Errorf("%q is not an ISO 4217 code (3 upper-case letters)", code)
	}
	return d.MinorUnits(), nil
}

// parseStart parses an RFC 3339 time or a YYYY-MM-DD date (UTC).
func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a YYYY-MM-DD date", s)
}

// daysFlag is a duration flag that also takes days: "365d", "1.5d".
type daysFlag time.Duration

func (d *daysFlag) String() string { return formatDays(time.Duration(*d)) }

func (d *daysFlag) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = daysFlag(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || f < 0 || f > 1e5 {
			return 0, fmt.Errorf("%q is not a number of days (e.g. 365d)", s)
		}
		return time.Duration(f * float64(shop.Day)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 365d, 72h)", s)
	}
	return v, nil
}

func formatDays(d time.Duration) string {
	if d%shop.Day == 0 {
		return strconv.FormatInt(int64(d/shop.Day), 10) + "d"
	}
	if d > shop.Day {
		return strconv.FormatFloat(float64(d)/float64(shop.Day), 'f', -1, 64) + "d"
	}
	return d.String()
}

// progress shows a status line: rewritten in place with \r on a
// terminal, a plain line every few seconds otherwise (logs, pipes, tests).
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	width int
	shown bool
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update shows line() when it is time to: every 200 ms on a terminal,
// every 5 s otherwise.
func (p *progress) update(line func() string) {
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	p.show(line())
}

func (p *progress) show(s string) {
	if !p.tty {
		fmt.Fprintln(p.w, s)
		return
	}
	pad := ""
	if n := p.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(s)
	fmt.Fprint(p.w, "\r"+s+pad)
	p.shown = true
}

// done ends the progress line on a terminal.
func (p *progress) done() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
