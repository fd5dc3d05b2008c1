package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
)

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
func (b *bench) latency(ctx context.Context, in *instance, p *process, rate float64, ids []string) (latencyResult, error) {
	lr := latencyResult{target: rate}
	out := in.topic("segment-changes")
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
	if _, _, err := b.waitCommitted(ctx, in, p, before+int64(lr.sent), 2*time.Minute); err != nil {
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
