package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

type inMsg struct {
	offset  int64
	key     []byte
	value   []byte
	headers []kafka.Header
	time    time.Time
}

// startPrefetch fetches (with fetch: w.fetch, but in tests) in the
// background and returns next, which yields the next fetch's messages
// (empty when none came within FetchMaxWait; false when the generation
// ended), and stop, which waits for the fetching goroutine to end. While the partition has a backlog, the next fetch runs
// during the processing of the batch before, so that its round trip costs
// nothing; once caught up, a fetch starts only when next asks for it, so
// that a batch takes everything that arrived meanwhile instead of the first
// message or two.
//
// A request (want) is unbuffered: it is taken only by a fetcher waiting
// for one, so none is ever taken for a batch already on its way, and none
// is lost.
func (w *worker) startPrefetch(gctx context.Context, fetch func(context.Context) ([]inMsg, bool, error)) (next func() ([]inMsg, bool), stop func()) {
	ctx, cancel := context.WithCancel(gctx)
	out := make(chan []inMsg)
	want := make(chan struct{})
	done := make(chan struct{})
	w.fetchOffset = w.offset
	go func() {
		defer close(done)
		defer close(out)
		backlog := false
		for {
			if !backlog {
				select {
				case <-want:
				case <-ctx.Done():
					return
				}
			}
			var msgs []inMsg
			err := w.p.retry(ctx, "kafka fetch", func(ctx context.Context) error {
				var err error
				msgs, backlog, err = fetch(ctx)
				return err
			})
			if err != nil {
				return // only when ctx ended
			}
			if len(msgs) > 0 {
				w.fetchOffset = msgs[len(msgs)-1].offset + 1
			}
			select {
			case out <- msgs:
			case <-ctx.Done():
				return
			}
		}
	}()
	next = func() ([]inMsg, bool) {
		select {
		case msgs, ok := <-out: // fetched ahead (a backlog), or ended
			return msgs, ok
		case want <- struct{}{}: // the fetcher waited for a request
			msgs, ok := <-out
			return msgs, ok
		}
	}
	return next, func() {
		cancel()
		<-done
	}
}

// fetchClient returns a client for one worker's fetches, with a connection
// of its own, and the function that closes it. kafka-go multiplexes all the
// requests a Transport sends to a broker on one connection, and a broker
// answers the requests of a connection one after the other: on a shared
// connection the fetch of a partition with no new messages, which waits up
// to FetchMaxWait, would hold up the other partitions' fetches and the
// produce requests queued behind it.
func (p *Processor) fetchClient() (*kafka.Client, func()) {
	shared, ok := p.client.Transport.(*kafka.Transport)
	if !ok {
		return p.client, func() {}
	}
	t := &kafka.Transport{
		Dial: shared.Dial, DialTimeout: shared.DialTimeout, IdleTimeout: shared.IdleTimeout,
		MetadataTTL: shared.MetadataTTL, MetadataTopics: shared.MetadataTopics, ClientID: shared.ClientID,
		TLS: shared.TLS, SASL: shared.SASL, Resolver: shared.Resolver, Context: shared.Context,
	}
	return &kafka.Client{Addr: p.client.Addr, Timeout: p.client.Timeout + p.cfg.FetchMaxWait, Transport: t}, t.CloseIdleConnections
}

// resolveOffset turns the special first/last offsets into a real one, so
// that messages produced between two fetches are never skipped.
func (w *worker) resolveOffset(ctx context.Context) error { return w.resolve(ctx, &w.offset) }

// resolve turns the special first/last offset in *off into a real one.
func (w *worker) resolve(ctx context.Context, off *int64) error {
	if *off >= 0 {
		return nil
	}
	res, err := w.p.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{w.topic: {{Partition: w.partition, Timestamp: *off}}},
	})
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	for _, po := range res.Topics[w.topic] {
		if po.Partition != w.partition {
			continue
		}
		if po.Error != nil {
			return fmt.Errorf("list offsets: %w", po.Error)
		}
		if *off == kafka.FirstOffset {
			*off = po.FirstOffset
		} else {
			*off = po.LastOffset
		}
		return nil
	}
	return fmt.Errorf("list offsets: no answer for %s/%d", w.topic, w.partition)
}

// fetch reads the messages from w.fetchOffset on, and reports whether the
// partition holds more. Only the prefetching goroutine calls it.
func (w *worker) fetch(ctx context.Context) ([]inMsg, bool, error) {
	p := w.p
	start := time.Now()
	resp, err := w.fetcher.Fetch(ctx, &kafka.FetchRequest{
		Topic:     w.topic,
		Partition: w.partition,
		Offset:    w.fetchOffset,
		MinBytes:  1,
		MaxBytes:  int64(p.cfg.FetchMaxBytes),
		MaxWait:   p.cfg.FetchMaxWait,
	})
	p.metrics.KafkaDuration.WithLabelValues("fetch").Observe(time.Since(start).Seconds())
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, err
		}
		p.metrics.KafkaErrors.WithLabelValues("fetch").Inc()
		if errors.Is(err, kafka.OffsetOutOfRange) {
			p.log.Warn("offset out of range; restarting from the earliest offset",
				"topic", w.topic, "partition", w.partition, "offset", w.fetchOffset)
			w.fetchOffset = kafka.FirstOffset
			if rerr := w.resolve(ctx, &w.fetchOffset); rerr != nil {
				return nil, false, rerr
			}
		}
		return nil, false, fmt.Errorf("fetch %s/%d at %d: %w", w.topic, w.partition, w.fetchOffset, err)
	}
	// a fresh slice and arena per fetch: the previous fetch's messages may
	// still be in processing
	msgs := make([]inMsg, 0, min(max(resp.HighWatermark-w.fetchOffset, 16), int64(p.cfg.BatchSize)))
	var arena []byte // keys and values, in chunks
	for {
		rec, err := resp.Records.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, false, fmt.Errorf("read records of %s/%d: %w", w.topic, w.partition, err)
		}
		if rec.Offset < w.fetchOffset {
			continue
		}
		m := inMsg{offset: rec.Offset, time: rec.Time, headers: copyHeaders(rec.Headers)}
		if m.key, arena, err = readBytes(arena, rec.Key); err == nil {
			m.value, arena, err = readBytes(arena, rec.Value)
		}
		if err != nil {
			return nil, false, fmt.Errorf("read record %s/%d@%d: %w", w.topic, w.partition, rec.Offset, err)
		}
		msgs = append(msgs, m)
	}
	last := w.fetchOffset
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1].offset + 1
	}
	w.progress.observeHigh(resp.HighWatermark)
	p.metrics.Lag.WithLabelValues(w.topic, w.partLabel).Set(float64(w.progress.lag()))
	return msgs, resp.HighWatermark > last, nil
}

// copyHeaders copies headers out of the fetch buffer, which the next
// ReadRecord may reuse.
func copyHeaders(hs []kafka.Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafka.Header, len(hs))
	for i, h := range hs {
		out[i] = kafka.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)}
	}
	return out
}

// readBytes reads b into the free capacity of arena (a new chunk when it
// does not fit) and returns the bytes read and the arena. The bytes stay
// valid: a full chunk is left to its readers, never overwritten.
func readBytes(arena []byte, b kafka.Bytes) ([]byte, []byte, error) {
	if b == nil {
		return nil, arena, nil
	}
	n := b.Len()
	if cap(arena)-len(arena) < n {
		arena = make([]byte, 0, max(n, 16<<10))
	}
	start := len(arena)
	arena = arena[:start+n]
	buf := arena[start : start+n : start+n]
	_, err := io.ReadFull(b, buf)
	return buf, arena, err
}
