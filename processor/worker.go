package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// Dead-letter headers: the reason a message was rejected and where it came from.
const (
	HeaderError     = "clienting-error"
	HeaderReason    = "clienting-error-reason"
	HeaderTopic     = "clienting-source-topic"
	HeaderPartition = "clienting-source-partition"
	HeaderOffset    = "clienting-source-offset"
)

// worker processes one assigned partition of one generation.
type worker struct {
	p         *Processor
	topic     string
	partition int
	offset    int64 // next offset to process; negative until resolved
	// fetchOffset is the next offset to fetch, owned by the prefetching
	// goroutine
	fetchOffset int64
	commits     *committer
	dlq         string
	partLabel   string
	fetcher     *kafka.Client // the worker's own connection for fetches
	committer   *offsetCommitter

	lastSweep time.Time

	// scratch, reused across batches
	evs     []events.Event
	applies []state.Apply
	results []state.Result
	out     []kafka.Message
	pending map[string]*pending
	pool    []*pending // pending views, reused: pool[:used] are in use
	used    int
	order   []string
	times   []time.Time // Kafka timestamps of the messages that caused output
	msgTime []time.Time
	recs    []state.Record
	boxed   []string
	// published are customers whose outbox entries were published and are
	// cleared with the next record (or when the partition is idle)
	published []string
	// flight is the publish in flight, nil when none: a batch's output is
	// published while the next batch is fetched, applied and scored
	flight *flight
	// spare is the output buffers of the last flight, reused
	spare flight
	// buf holds the batch's output keys and values; messages point into
	// it until they are published
	buf []byte
	res scoring.Result // the evaluation at hand
	// the scores and metrics of the evaluation at hand, listed once for
	// all its transitions
	scores  []events.Score
	metrics []events.Metric
	listed  bool
	// scoreNames caches "score."+profile
	scoreNames map[string]string
	// eventCounters caches events_total by event type and outcome
	eventCounters [4][3]prometheus.Counter
	horizonDays   int // the CLV horizon (Engine.Config copies the whole configuration)
}

// pending is a customer's published view while a batch is being scored.
type pending struct {
	published map[string]string
	changed   map[string]string
	moves     []state.Move
	seq       int64
	baseSeq   int64
	scores    [4]int8
	base      [4]int8
	contrib   scoring.Contrib
	prev      scoring.Contrib
	due       time.Time
	outbox    []state.Message // the transitions' messages, kept until published
	key       []byte          // the customer id, key of its messages
}

// observe keeps what an evaluation of the customer decided besides
// transitions: its scores, population contribution and next due time.
func (pend *pending) observe(res *scoring.Result) {
	pend.scores = res.Scores.Packed()
	pend.contrib = res.Contrib
	pend.due = res.NextDue
}

type inMsg struct {
	offset  int64
	key     []byte
	value   []byte
	headers []kafka.Header
	time    time.Time
}

func (p *Processor) newWorker(topic string, partition int, offset int64, c *committer) *worker {
	return &worker{
		p:           p,
		topic:       topic,
		partition:   partition,
		offset:      offset,
		commits:     c,
		dlq:         topic + p.cfg.Topics.DeadLetterSuffix,
		partLabel:   strconv.Itoa(partition),
		pending:     map[string]*pending{},
		scoreNames:  map[string]string{},
		horizonDays: p.engine.Config().CLV.HorizonDays,
	}
}

// run is the partition loop: sweep when due, take the next fetched batch,
// process it. Fetches run one batch ahead while there is a backlog, a
// batch's output is published while the next batch is processed, and
// commits run in the background (startPrefetch, takeOff, startCommitter),
// so none of these round trips delays the next batch. It returns when the
// generation ends, after finishing the batch in flight, publishing its
// output and committing it.
func (w *worker) run(gctx context.Context) {
	p := w.p
	// Work in flight survives the end of the generation for at most
	// ShutdownTimeout, so a shutdown finishes and commits its batch.
	dctx, cancel := context.WithCancel(context.WithoutCancel(gctx))
	defer cancel()
	stop := context.AfterFunc(gctx, func() { time.AfterFunc(p.cfg.ShutdownTimeout, cancel) })
	defer stop()
	defer p.metrics.Lag.DeleteLabelValues(w.topic, w.partLabel)
	defer p.metrics.SweepBacklog.DeleteLabelValues(w.topic, w.partLabel)

	log := p.log.With("topic", w.topic, "partition", w.partition)
	var closeFetcher func()
	w.fetcher, closeFetcher = p.fetchClient()
	defer closeFetcher()
	if err := p.retry(gctx, "resolve offset", w.resolveOffset); err != nil {
		return
	}
	if err := p.retry(gctx, "flush outbox", w.flushOutbox); err != nil {
		return
	}
	w.committer = w.startCommitter(gctx, dctx)
	defer w.committer.close()
	defer w.clearPublished(dctx)
	defer func() {
		// the last batch's publish: its offset is committed when it lands
		if err := w.land(); err != nil {
			log.Error("output of the last batch not published at shutdown; the next owner republishes it", "err", err)
		}
	}()
	next, stopFetching := w.startPrefetch(gctx, w.fetch)
	defer stopFetching()
	for gctx.Err() == nil {
		if time.Since(w.lastSweep) >= p.cfg.SweepInterval {
			if err := w.sweep(gctx); err != nil && gctx.Err() == nil {
				log.Warn("sweep failed; next tick retries", "err", err)
			}
			w.lastSweep = time.Now()
		}
		msgs, ok := next()
		if !ok {
			return // the generation ended
		}
		if len(msgs) == 0 {
			// idle: no next record to clear the outbox with
			if err := w.land(); err != nil {
				log.Error("output not published; the next owner republishes it", "err", err)
				return
			}
			w.clearPublished(gctx)
		}
		for len(msgs) > 0 {
			n := min(len(msgs), p.cfg.BatchSize)
			chunk := msgs[:n]
			msgs = msgs[n:]
			if err := w.process(dctx, chunk); err != nil {
				// Only a shutdown that outlived ShutdownTimeout gets here;
				// nothing past the last commit is lost: the next owner
				// replays it and the watermark makes the replay harmless.
				log.Error("batch abandoned at shutdown", "err", err)
				return
			}
			w.offset = chunk[n-1].offset + 1
		}
	}
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

// offsetCommitter commits a worker's offsets in the background, so that
// the next fetch does not wait for the commit of the previous batch. It
// holds only the latest offset handed to it: committing that one covers
// the batches before.
type offsetCommitter struct {
	latest chan int64 // capacity 1: the offset waiting to be committed
	done   chan struct{}
}

// startCommitter starts w's committer. Commits are retried until they
// succeed or the generation ends (the partition may belong to another
// member then, which replays from the last commit); close waits for the
// last offset, within dctx.
func (w *worker) startCommitter(gctx, dctx context.Context) *offsetCommitter {
	p := w.p
	c := &offsetCommitter{latest: make(chan int64, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for next := range c.latest {
			_ = p.retry(dctx, "kafka commit", func(context.Context) error {
				start := time.Now()
				err := w.commits.commit(w.topic, w.partition, next)
				p.metrics.KafkaDuration.WithLabelValues("commit").Observe(time.Since(start).Seconds())
				if err != nil {
					p.metrics.KafkaErrors.WithLabelValues("commit").Inc()
					if gctx.Err() != nil {
						return nil
					}
				}
				return err
			})
		}
	}()
	return c
}

// commit hands next over to be committed, replacing an older offset not
// yet taken up.
func (c *offsetCommitter) commit(next int64) {
	for {
		select {
		case c.latest <- next:
			return
		default:
		}
		select {
		case <-c.latest:
		default:
		}
	}
}

// close waits until the last offset handed over is committed (or given up).
func (c *offsetCommitter) close() {
	close(c.latest)
	<-c.done
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
	p.metrics.Lag.WithLabelValues(w.topic, w.partLabel).Set(float64(max(resp.HighWatermark-last, 0)))
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

// process decodes, applies and scores one batch, records what it is to
// publish and starts publishing it; the batch's offset is handed to the
// committer once its output is published. It retries Redis and Kafka until
// they answer or ctx ends; it returns an error only when ctx ended.
func (w *worker) process(ctx context.Context, msgs []inMsg) error {
	p := w.p
	start := time.Now()
	p.metrics.BatchSize.Observe(float64(len(msgs)))
	w.decode(msgs)
	err := p.redisCall(ctx, "apply", func(ctx context.Context) error {
		var err error
		w.results, err = p.store.ApplyBatch(ctx, w.applies, w.results)
		return err
	})
	if err != nil {
		return err
	}
	w.score(p.cfg.Now())
	if err := w.publishAndRecord(ctx, msgs[len(msgs)-1].offset+1); err != nil {
		return err
	}
	p.metrics.BatchDuration.Observe(time.Since(start).Seconds())
	return nil
}

// decode starts a batch: it decodes msgs into w.applies, with their Kafka
// timestamps in w.msgTime, and dead-letters what does not decode.
func (w *worker) decode(msgs []inMsg) {
	p := w.p
	w.evs = growEvents(w.evs, len(msgs))
	w.applies = w.applies[:0]
	w.reset()
	msgTime := w.msgTime[:0]
	var hdrs []events.Header
	for i := range msgs {
		m := &msgs[i]
		hdrs = hdrs[:0]
		for _, h := range m.headers {
			hdrs = append(hdrs, events.Header{Key: h.Key, Value: h.Value})
		}
		ev, err := p.decoder.Decode(m.key, m.value, hdrs)
		if err != nil {
			w.deadLetter(m, err)
			continue
		}
		w.evs[i] = ev
		resp := ev.Type == events.TypeContact && (ev.Contact.Inbound || p.responses[ev.Contact.Outcome])
		w.applies = append(w.applies, state.Apply{
			Event: &w.evs[i], Topic: w.topic, Partition: w.partition, Offset: m.offset, Response: resp,
		})
		msgTime = append(msgTime, m.time)
	}
	w.msgTime = msgTime
}

// score evaluates the customer after each applied event (w.results) and
// emits what changed against what was last published for it.
func (w *worker) score(now time.Time) {
	p := w.p
	env := p.env.Load()
	for i := range w.results {
		r := &w.results[i]
		a := &w.applies[i]
		ev := a.Event
		w.countEvent(ev.Type, r.Outcome)
		c := &r.Customer
		pend := w.pendingFor(c)
		// The batch's view of what was published lives in pend (the
		// engine does not read c.Published); c keeps its own map, which
		// the store reuses for the next batch.
		c.Seq = pend.seq
		c.Scores = pend.scores
		c.Contrib = pend.contrib
		res := &w.res
		p.engine.EvaluateTo(res, c, *env, now)
		cause := events.Cause{Kind: events.CauseEvent, EventID: ev.ID}
		n := w.transitions(pend, c, res, cause, ev.Time, now)
		if ev.Type == events.TypeComplaint && !ev.Complaint.Resolved {
			// Published for redeliveries and duplicates too: a crash may
			// have come between the state update and this publish. The id
			// is derived from the complaint, so consumers drop repeats.
			w.recovery(c, res, ev, now)
			n++
		}
		for range n {
			w.times = append(w.times, w.msgTime[i])
		}
		pend.observe(res)
	}
}

// maxKeptBuf caps the output buffer a worker keeps between batches. A
// batch of BatchSize events with a transition each needs about 1.5 MB; a
// batch of new customers (five transitions each) or a large sweep needs
// several times that, which is given back rather than held by every worker.
const maxKeptBuf = 4 << 20

// reset empties the per-batch scratch: output, pending views, buffer.
func (w *worker) reset() {
	clear(w.out) // drop references to the last batch's messages
	w.out = w.out[:0]
	w.times = w.times[:0]
	clear(w.pending)
	w.used = 0
	w.order = w.order[:0]
	if cap(w.buf) > maxKeptBuf {
		w.buf = nil
	}
	w.buf = w.buf[:0]
}

// countEvent counts an applied event in events_total, through a cache of
// the counters (WithLabelValues hashes its labels on every call).
func (w *worker) countEvent(t events.Type, o state.Outcome) {
	if int(t) >= len(w.eventCounters) || int(o) >= len(w.eventCounters[0]) {
		w.p.metrics.Events.WithLabelValues(t.String(), o.String()).Inc()
		return
	}
	c := w.eventCounters[t][o]
	if c == nil {
		c = w.p.metrics.Events.WithLabelValues(t.String(), o.String())
		w.eventCounters[t][o] = c
	}
	c.Inc()
}

func growEvents(s []events.Event, n int) []events.Event {
	if cap(s) < n {
		return make([]events.Event, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// pendingFor returns the batch's view of what was published for c. The
// first time a customer shows up in a batch the view comes from the store;
// later events of the same customer see the transitions the batch already
// decided.
func (w *worker) pendingFor(c *scoring.Customer) *pending {
	pend := w.pending[c.ID]
	if pend == nil {
		pend = w.newPending()
		pend.published, pend.seq, pend.baseSeq = c.Published, c.Seq, c.Seq
		pend.scores, pend.base, pend.contrib, pend.prev = c.Scores, c.Scores, c.Contrib, c.Contrib
		if pend.published == nil {
			pend.published = map[string]string{}
		}
		start := len(w.buf)
		w.buf = append(w.buf, c.ID...)
		pend.key = w.buf[start:len(w.buf):len(w.buf)]
		w.pending[c.ID] = pend
		w.order = append(w.order, c.ID)
	}
	return pend
}

// newPending returns a cleared pending view from the worker's pool, which
// keeps the capacity of its maps and slices from batch to batch.
func (w *worker) newPending() *pending {
	if w.used == len(w.pool) {
		w.pool = append(w.pool, &pending{})
	}
	pend := w.pool[w.used]
	w.used++
	changed, moves, outbox := pend.changed, pend.moves[:0], pend.outbox[:0]
	clear(changed)
	clear(outbox[:cap(outbox)]) // drop references to old message values
	*pend = pending{changed: changed, moves: moves, outbox: outbox}
	return pend
}

// transitions appends the output messages for every segmentation and churn
// level of c that differ from what was last published, and returns how many.
func (w *worker) transitions(pend *pending, c *scoring.Customer, res *scoring.Result, cause events.Cause, eventTime, now time.Time) int {
	p := w.p
	n := 0
	w.listed = false
	for _, a := range res.Segments {
		from := pend.published[a.Segmentation]
		if from == a.Segment {
			continue
		}
		pend.seq++
		scores, metrics := w.lists(res)
		msg := events.SegmentChange{
			ID:            events.OutputID(c.ID, "segment", strconv.FormatInt(pend.seq, 10), a.Segmentation, a.Segment),
			CustomerID:    c.ID,
			Segmentation:  a.Segmentation,
			From:          from,
			To:            a.Segment,
			Cause:         cause,
			EventTime:     eventTime,
			Time:          now,
			Sequence:      pend.seq,
			Holdout:       res.Holdout,
			ConfigVersion: p.engine.Version(),
			Scores:        scores,
			Metrics:       metrics,
		}
		start := len(w.buf)
		w.buf = msg.AppendJSON(w.buf)
		w.emitTransition(pend, p.cfg.Topics.SegmentChanges, w.buf[start:len(w.buf):len(w.buf)])
		w.setPublished(pend, a.Segmentation, a.Segment)
		p.metrics.Transitions.WithLabelValues(a.Segmentation, label(from), a.Segment).Inc()
		n++
	}
	if lvl := res.Churn.Level; lvl != "" && lvl != pend.published[scoring.ChurnKey] {
		from := pend.published[scoring.ChurnKey]
		pend.seq++
		msg := events.ChurnRisk{
			ID:                    events.OutputID(c.ID, "churn", strconv.FormatInt(pend.seq, 10), lvl),
			CustomerID:            c.ID,
			From:                  from,
			To:                    lvl,
			PAlive:                res.Churn.PAlive,
			ExpectedPurchases:     res.Churn.ExpectedPurchases,
			HorizonDays:           w.horizonDays,
			DaysSinceLastPurchase: float64(res.Metrics.RecencyDays),
			CLV:                   p.money(int64(math.Round(res.Churn.CLV))),
			Cause:                 cause,
			EventTime:             eventTime,
			Time:                  now,
			Sequence:              pend.seq,
			ModelVersion:          res.Churn.Model,
		}
		start := len(w.buf)
		w.buf = msg.AppendJSON(w.buf)
		w.emitTransition(pend, p.cfg.Topics.ChurnRisk, w.buf[start:len(w.buf):len(w.buf)])
		w.setPublished(pend, scoring.ChurnKey, lvl)
		p.metrics.Transitions.WithLabelValues(scoring.ChurnKey, label(from), lvl).Inc()
		n++
	}
	return n
}

func label(from string) string {
	if from == "" {
		return "none"
	}
	return from
}

func (w *worker) setPublished(pend *pending, key, v string) {
	if pend.changed == nil {
		pend.changed = map[string]string{}
	}
	// Updated in place: the map comes from the store's decoding of this
	// customer's first result of the batch, which was evaluated already,
	// and later evaluations are to see the batch's view.
	pend.moves = append(pend.moves, state.Move{Segmentation: key, From: pend.published[key], To: v})
	pend.published[key] = v
	pend.changed[key] = v
}

func (w *worker) recovery(c *scoring.Customer, res *scoring.Result, ev *events.Event, now time.Time) {
	p := w.p
	dec := p.engine.Recovery(*res, int(ev.Complaint.Severity))
	msg := events.Recovery{
		ID:                events.OutputID(c.ID, "recovery", ev.Complaint.ComplaintID),
		CustomerID:        c.ID,
		ComplaintID:       ev.Complaint.ComplaintID,
		Severity:          ev.Complaint.Severity,
		ValueTier:         dec.ValueTier,
		Priority:          dec.Priority,
		CompensationLimit: p.money(dec.CompensationLimit),
		Cause:             events.Cause{Kind: events.CauseEvent, EventID: ev.ID},
		EventTime:         ev.Time,
		Time:              now,
	}
	w.emit(p.cfg.Topics.Recovery, c.ID, msg.AppendJSON(nil))
	p.metrics.Recoveries.WithLabelValues(dec.Priority).Inc()
}

// emitTransition emits a transition's message and keeps it for the outbox.
func (w *worker) emitTransition(pend *pending, topic string, value []byte) {
	w.out = append(w.out, kafka.Message{Topic: topic, Key: pend.key, Value: value})
	pend.outbox = append(pend.outbox, state.Message{Topic: topic, Value: value})
}

func (w *worker) emit(topic, key string, value []byte) {
	w.out = append(w.out, kafka.Message{Topic: topic, Key: []byte(key), Value: value})
}

func (w *worker) deadLetter(m *inMsg, err error) {
	p := w.p
	reason := string(events.ReasonOf(err))
	p.metrics.DecodeErrors.WithLabelValues(reason).Inc()
	p.metrics.Events.WithLabelValues("unknown", "dead_lettered").Inc()
	hdrs := make([]kafka.Header, 0, len(m.headers)+5)
	hdrs = append(hdrs, m.headers...)
	hdrs = append(hdrs,
		kafka.Header{Key: HeaderError, Value: []byte(err.Error())},
		kafka.Header{Key: HeaderReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderTopic, Value: []byte(w.topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(w.partLabel)},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.offset, 10))},
	)
	w.out = append(w.out, kafka.Message{Topic: w.dlq, Key: m.key, Value: m.value, Headers: hdrs})
}

// publishAndRecord makes the batch's transitions durable: it records them
// in the store together with their messages (the outbox), then starts
// publishing the output (acks=all) in the background; commit (the next
// offset of the batch, negative for a sweep) is handed to the committer
// once that succeeded, and the outbox entries are cleared with the next
// record. A crash after the record republishes the recorded messages
// unchanged when the partition is next assigned (flushOutbox); a crash
// before it recomputes the same transitions on replay.
//
// The previous batch's publish, which ran meanwhile, is waited for before
// the record: so outputs leave in input order, offsets are committed in
// order, and the record clears the previous batch's published outbox.
func (w *worker) publishAndRecord(ctx context.Context, commit int64) error {
	p := w.p
	recs := w.recs[:0]
	boxed := w.boxed[:0]
	for _, id := range w.order {
		pend := w.pending[id]
		r := state.Record{CustomerID: id, Published: pend.changed, Moves: pend.moves, Due: pend.due,
			Scores: pend.scores, ScoresChanged: pend.scores != pend.base, PrevContrib: pend.prev, Contrib: pend.contrib}
		if pend.seq != pend.baseSeq {
			r.Seq = pend.seq
		}
		if len(pend.outbox) > 0 {
			start := len(w.buf)
			w.buf = state.EncodeMessages(w.buf, pend.outbox)
			r.Outbox = w.buf[start:len(w.buf):len(w.buf)]
			boxed = append(boxed, id)
		}
		recs = append(recs, r)
	}
	w.recs, w.boxed = recs, boxed
	defer clear(recs) // drop references to the batch's maps and messages
	if err := w.land(); err != nil {
		return err
	}
	err := p.redisCall(ctx, "record", func(ctx context.Context) error {
		return p.store.RecordAndClear(ctx, w.topic, w.partition, w.published, recs)
	})
	if err != nil {
		return err
	}
	w.published = w.published[:0]
	w.takeOff(ctx, commit)
	return nil
}

// flight is a batch's output on its way to Kafka: the messages, the buffer
// they point into, the Kafka timestamps of their causes, and the customers
// whose outbox entries they are.
type flight struct {
	out   []kafka.Message
	buf   []byte
	times []time.Time
	boxed []string
	done  chan struct{}
	err   error
}

// takeOff publishes the batch's output in the background, then hands
// commit to the committer (when not negative) and observes the end-to-end
// latency. The worker goes on with the spare buffers.
func (w *worker) takeOff(ctx context.Context, commit int64) {
	p := w.p
	f := &flight{out: w.out, buf: w.buf, times: w.times,
		boxed: append(w.spare.boxed[:0], w.boxed...), done: make(chan struct{})}
	w.out, w.buf, w.times = w.spare.out[:0], w.spare.buf[:0], w.spare.times[:0]
	w.spare = flight{}
	w.flight = f
	go func() {
		defer close(f.done)
		if f.err = w.publish(ctx, f.out); f.err != nil {
			return
		}
		if commit >= 0 {
			w.committer.commit(commit)
		}
		done := time.Now()
		for _, t := range f.times {
			if !t.IsZero() {
				p.metrics.EndToEnd.Observe(done.Sub(t).Seconds())
			}
		}
	}()
}

// land waits for the publish in flight, if any. Its customers' outbox
// entries are then cleared with the next record (a crash before that
// republishes these messages, with the same ids, which consumers drop), and
// its buffers are kept for reuse. The error is the publish's: it failed
// only because its context ended.
func (w *worker) land() error {
	f := w.flight
	if f == nil {
		return nil
	}
	<-f.done
	w.flight = nil
	if f.err != nil {
		return f.err
	}
	w.published = append(w.published, f.boxed...)
	clear(f.out) // drop references to the messages
	if cap(f.buf) > maxKeptBuf {
		f.buf = nil
	}
	w.spare = flight{out: f.out[:0], buf: f.buf[:0], times: f.times[:0], boxed: f.boxed[:0]}
	return nil
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

// clearPublished clears the outbox entries of the messages published last,
// once; a failure leaves them for the next record.
func (w *worker) clearPublished(ctx context.Context) {
	if len(w.published) == 0 {
		return
	}
	if err := w.p.store.ClearOutbox(ctx, w.topic, w.partition, w.published); err != nil {
		w.p.metrics.RedisErrors.WithLabelValues("outbox").Inc()
		return
	}
	w.published = w.published[:0]
}

func (w *worker) publish(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	p := w.p
	return p.retry(ctx, "kafka produce", func(ctx context.Context) error {
		t := time.Now()
		err := p.writer.WriteMessages(ctx, msgs...)
		p.metrics.KafkaDuration.WithLabelValues("produce").Observe(time.Since(t).Seconds())
		if err != nil {
			p.metrics.KafkaErrors.WithLabelValues("produce").Inc()
		}
		return err
	})
}

func (w *worker) clearOutbox(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	p := w.p
	return p.retry(ctx, "redis clear outbox", func(ctx context.Context) error {
		err := p.store.ClearOutbox(ctx, w.topic, w.partition, ids)
		if err != nil {
			p.metrics.RedisErrors.WithLabelValues("outbox").Inc()
		}
		return err
	})
}

// flushOutbox publishes what a previous owner of the partition recorded and
// may not have published, before anything else is processed.
func (w *worker) flushOutbox(ctx context.Context) error {
	p := w.p
	box, err := p.store.Outbox(ctx, w.topic, w.partition)
	if err != nil {
		return err
	}
	if len(box) == 0 {
		return nil
	}
	var msgs []kafka.Message
	ids := make([]string, 0, len(box))
	for id, ms := range box {
		ids = append(ids, id)
		for _, m := range ms {
			msgs = append(msgs, kafka.Message{Topic: m.Topic, Key: []byte(id), Value: m.Value})
		}
	}
	p.log.Info("republishing recorded transitions of an interrupted batch",
		"topic", w.topic, "partition", w.partition, "customers", len(ids), "messages", len(msgs))
	if err := w.publish(ctx, msgs); err != nil {
		return err
	}
	// The record of these transitions may not have landed (see
	// state.Store.OutboxKey): restore it before the outbox goes.
	restored := 0
	for id, ms := range box {
		published, seq := w.recordOf(id, ms)
		ok, err := p.store.RestorePublished(ctx, id, published, seq)
		if err != nil {
			p.metrics.RedisErrors.WithLabelValues("outbox").Inc()
			return err
		}
		if ok {
			restored++
		}
	}
	if restored > 0 {
		p.log.Warn("restored the published segments of customers whose record an interruption cut short",
			"topic", w.topic, "partition", w.partition, "customers", restored)
	}
	return w.clearOutbox(ctx, ids)
}

// recordOf reads from a customer's outbox messages what its record wrote:
// the last segment published per segmentation, the churn-risk level and the
// highest transition sequence. A message that does not decode (which only
// another version could have written) is logged and left out.
func (w *worker) recordOf(id string, msgs []state.Message) (map[string]string, int64) {
	p := w.p
	published := map[string]string{}
	var seq int64
	for _, m := range msgs {
		var err error
		switch m.Topic {
		case p.cfg.Topics.SegmentChanges:
			var c events.SegmentChange
			if err = json.Unmarshal(m.Value, &c); err == nil {
				published[c.Segmentation] = c.To
				seq = max(seq, c.Sequence)
			}
		case p.cfg.Topics.ChurnRisk:
			var r events.ChurnRisk
			if err = json.Unmarshal(m.Value, &r); err == nil {
				published[scoring.ChurnKey] = r.To
				seq = max(seq, r.Sequence)
			}
		}
		if err != nil {
			p.log.Error("outbox message does not decode; its segment is not restored",
				"topic", w.topic, "partition", w.partition, "customer", id, "output_topic", m.Topic, "err", err)
		}
	}
	return published, seq
}

// sweep re-evaluates the partition's customers whose due time has passed
// and publishes their transitions with cause "time".
func (w *worker) sweep(ctx context.Context) error {
	p := w.p
	start := time.Now()
	defer func() { p.metrics.SweepDuration.Observe(time.Since(start).Seconds()) }()
	now := p.cfg.Now()
	ids, err := p.store.Due(ctx, w.topic, w.partition, now, p.cfg.SweepLimit)
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("due").Inc()
		return err
	}
	if backlog, err := p.store.DueBacklog(ctx, w.topic, w.partition, now); err == nil {
		p.metrics.SweepBacklog.WithLabelValues(w.topic, w.partLabel).Set(float64(backlog))
	}
	if len(ids) == 0 {
		return nil
	}
	loaded, err := p.store.Load(ctx, ids)
	if err != nil {
		p.metrics.RedisErrors.WithLabelValues("load").Inc()
		return err
	}
	w.reset()
	env := p.env.Load()
	cause := events.Cause{Kind: events.CauseTime}
	for i := range loaded {
		c := &loaded[i].Customer
		pend := w.pendingFor(c)
		if !loaded[i].Found {
			continue // due is zero: the record removes it from the index
		}
		res := &w.res
		p.engine.EvaluateTo(res, c, *env, now)
		w.transitions(pend, c, res, cause, now, now)
		pend.observe(res)
		if !pend.due.IsZero() && !pend.due.After(now) {
			// never leave a customer due in the past: that would sweep it
			// on every tick (a zero due time removes it from the index)
			pend.due = now.Add(p.cfg.SweepInterval)
		}
	}
	p.metrics.SweepCustomers.Add(float64(len(ids)))
	// Sweeps use ctx: a sweep cut short is redone by the next tick, with
	// the same output ids.
	return w.publishAndRecord(ctx, -1)
}

func (p *Processor) money(minor int64) events.Money {
	return events.Money{Minor: minor, MinorUnits: p.decoder.MinorUnits(), Currency: p.decoder.BaseCurrency()}
}

// lists returns the scores and metrics of the evaluation at hand, listed
// on its first transition and shared by the others (their messages are
// encoded at once).
func (w *worker) lists(res *scoring.Result) ([]events.Score, []events.Metric) {
	if !w.listed {
		w.scores = w.scoreList(w.scores[:0], res)
		w.metrics = w.metricList(w.metrics[:0], res)
		w.listed = true
	}
	return w.scores, w.metrics
}

// scoreList lists the scores that decided a segment: R, F, M, T and the
// weighted profiles (score.<profile>).
func (w *worker) scoreList(out []events.Score, res *scoring.Result) []events.Score {
	out = append(out,
		events.Score{Name: "r", Value: float64(res.Scores.R)},
		events.Score{Name: "f", Value: float64(res.Scores.F)},
		events.Score{Name: "m", Value: float64(res.Scores.M)},
		events.Score{Name: "t", Value: float64(res.Scores.T)},
	)
	for _, ps := range res.Profiles {
		name, ok := w.scoreNames[ps.Profile]
		if !ok {
			name = "score." + ps.Profile
			w.scoreNames[ps.Profile] = name
		}
		out = append(out, events.Score{Name: name, Value: ps.Score})
	}
	return out
}

// metricList lists the metrics carried in segment changes: recency_days,
// frequency, monetary, tenure_days, margin, open_complaints, p_alive,
// expected_purchases and clv. They are read from the fields that
// scoring.Metrics.Value would look up by name (it copies the evaluation
// context on every call).
func (w *worker) metricList(out []events.Metric, res *scoring.Result) []events.Metric {
	m := &res.Metrics
	return append(out,
		events.Metric{Name: "recency_days", Value: float64(m.RecencyDays)},
		events.Metric{Name: "frequency", Value: float64(m.Frequency)},
		events.Metric{Name: "monetary", Value: m.Monetary},
		events.Metric{Name: "tenure_days", Value: float64(m.TenureDays)},
		events.Metric{Name: "margin", Value: m.Margin},
		events.Metric{Name: "open_complaints", Value: float64(m.OpenComplaints)},
		events.Metric{Name: "p_alive", Value: m.PAlive},
		events.Metric{Name: "expected_purchases", Value: m.ExpectedPurchases},
		events.Metric{Name: "clv", Value: m.CLV},
	)
}
