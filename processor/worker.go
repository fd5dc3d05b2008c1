package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

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
	commits   *committer
	dlq       string
	partLabel string

	lastSweep time.Time

	// scratch, reused across batches
	evs     []events.Event
	applies []state.Apply
	results []state.Result
	out     []kafka.Message
	pending map[string]*pending
	order   []string
	times   []time.Time // Kafka timestamps of the messages that caused output
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
		p:         p,
		topic:     topic,
		partition: partition,
		offset:    offset,
		commits:   c,
		dlq:       topic + p.cfg.Topics.DeadLetterSuffix,
		partLabel: strconv.Itoa(partition),
		pending:   map[string]*pending{},
	}
}

// run is the partition loop: sweep when due, fetch, process, commit. It
// returns when the generation ends, after finishing the batch in flight.
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
	if err := p.retry(gctx, "resolve offset", w.resolveOffset); err != nil {
		return
	}
	if err := p.retry(gctx, "flush outbox", w.flushOutbox); err != nil {
		return
	}
	for gctx.Err() == nil {
		if time.Since(w.lastSweep) >= p.cfg.SweepInterval {
			if err := w.sweep(gctx); err != nil && gctx.Err() == nil {
				log.Warn("sweep failed; next tick retries", "err", err)
			}
			w.lastSweep = time.Now()
		}
		var msgs []inMsg
		err := p.retry(gctx, "kafka fetch", func(ctx context.Context) error {
			var err error
			msgs, err = w.fetch(ctx)
			return err
		})
		if err != nil {
			return
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
			next := chunk[n-1].offset + 1
			err := p.retry(dctx, "kafka commit", func(ctx context.Context) error {
				start := time.Now()
				err := w.commits.commit(w.topic, w.partition, next)
				p.metrics.KafkaDuration.WithLabelValues("commit").Observe(time.Since(start).Seconds())
				if err != nil {
					p.metrics.KafkaErrors.WithLabelValues("commit").Inc()
					if gctx.Err() != nil {
						// The generation is over: the partition may
						// belong to another member already, which
						// replays from the last commit.
						return nil
					}
				}
				return err
			})
			if err != nil {
				return
			}
			w.offset = next
		}
	}
}

// resolveOffset turns the special first/last offsets into a real one, so
// that messages produced between two fetches are never skipped.
func (w *worker) resolveOffset(ctx context.Context) error {
	if w.offset >= 0 {
		return nil
	}
	res, err := w.p.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{w.topic: {{Partition: w.partition, Timestamp: w.offset}}},
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
		if w.offset == kafka.FirstOffset {
			w.offset = po.FirstOffset
		} else {
			w.offset = po.LastOffset
		}
		return nil
	}
	return fmt.Errorf("list offsets: no answer for %s/%d", w.topic, w.partition)
}

func (w *worker) fetch(ctx context.Context) ([]inMsg, error) {
	p := w.p
	start := time.Now()
	resp, err := p.client.Fetch(ctx, &kafka.FetchRequest{
		Topic:     w.topic,
		Partition: w.partition,
		Offset:    w.offset,
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
			return nil, err
		}
		p.metrics.KafkaErrors.WithLabelValues("fetch").Inc()
		if errors.Is(err, kafka.OffsetOutOfRange) {
			p.log.Warn("offset out of range; restarting from the earliest offset",
				"topic", w.topic, "partition", w.partition, "offset", w.offset)
			w.offset = kafka.FirstOffset
			if rerr := w.resolveOffset(ctx); rerr != nil {
				return nil, rerr
			}
		}
		return nil, fmt.Errorf("fetch %s/%d at %d: %w", w.topic, w.partition, w.offset, err)
	}
	var msgs []inMsg
	for {
		rec, err := resp.Records.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("read records of %s/%d: %w", w.topic, w.partition, err)
		}
		if rec.Offset < w.offset {
			continue
		}
		m := inMsg{offset: rec.Offset, time: rec.Time, headers: copyHeaders(rec.Headers)}
		if m.key, err = readBytes(rec.Key); err == nil {
			m.value, err = readBytes(rec.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("read record %s/%d@%d: %w", w.topic, w.partition, rec.Offset, err)
		}
		msgs = append(msgs, m)
	}
	last := w.offset
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1].offset + 1
	}
	p.metrics.Lag.WithLabelValues(w.topic, w.partLabel).Set(float64(max(resp.HighWatermark-last, 0)))
	return msgs, nil
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

func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
}

// process decodes, applies, scores and publishes one batch and records what
// it published. It retries Redis and Kafka until they answer or ctx ends;
// it returns an error only when ctx ended.
func (w *worker) process(ctx context.Context, msgs []inMsg) error {
	p := w.p
	start := time.Now()
	p.metrics.BatchSize.Observe(float64(len(msgs)))

	w.evs = growEvents(w.evs, len(msgs))
	w.applies = w.applies[:0]
	w.out = w.out[:0]
	w.times = w.times[:0]
	clear(w.pending)
	w.order = w.order[:0]
	msgTime := make([]time.Time, 0, len(msgs))

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

	err := p.retry(ctx, "redis apply", func(ctx context.Context) error {
		t := time.Now()
		var err error
		w.results, err = p.store.ApplyBatch(ctx, w.applies, w.results)
		p.metrics.RedisDuration.WithLabelValues("apply").Observe(time.Since(t).Seconds())
		if err != nil {
			p.metrics.RedisErrors.WithLabelValues("apply").Inc()
		}
		return err
	})
	if err != nil {
		return err
	}

	now := p.cfg.Now()
	env := p.env.Load()
	for i := range w.results {
		r := &w.results[i]
		a := &w.applies[i]
		ev := a.Event
		p.metrics.Events.WithLabelValues(ev.Type.String(), r.Outcome.String()).Inc()
		c := &r.Customer
		pend := w.pendingFor(c)
		c.Published = pend.published
		c.Seq = pend.seq
		c.Scores = pend.scores
		c.Contrib = pend.contrib
		res := p.engine.Evaluate(c, *env, now)
		cause := events.Cause{Kind: events.CauseEvent, EventID: ev.ID}
		n := w.transitions(pend, c, &res, cause, ev.Time, now)
		if ev.Type == events.TypeComplaint && !ev.Complaint.Resolved {
			// Published for redeliveries and duplicates too: a crash may
			// have come between the state update and this publish. The id
			// is derived from the complaint, so consumers drop repeats.
			w.recovery(c, &res, ev, now)
			n++
		}
		for range n {
			w.times = append(w.times, msgTime[i])
		}
		pend.observe(&res)
	}
	if err := w.publishAndRecord(ctx); err != nil {
		return err
	}
	done := time.Now()
	for _, t := range w.times {
		if !t.IsZero() {
			p.metrics.EndToEnd.Observe(done.Sub(t).Seconds())
		}
	}
	p.metrics.BatchDuration.Observe(time.Since(start).Seconds())
	return nil
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
		pend = &pending{published: c.Published, seq: c.Seq, baseSeq: c.Seq,
			scores: c.Scores, base: c.Scores, contrib: c.Contrib, prev: c.Contrib}
		if pend.published == nil {
			pend.published = map[string]string{}
		}
		w.pending[c.ID] = pend
		w.order = append(w.order, c.ID)
	}
	return pend
}

// transitions appends the output messages for every segmentation and churn
// level of c that differ from what was last published, and returns how many.
func (w *worker) transitions(pend *pending, c *scoring.Customer, res *scoring.Result, cause events.Cause, eventTime, now time.Time) int {
	p := w.p
	n := 0
	for _, a := range res.Segments {
		from := pend.published[a.Segmentation]
		if from == a.Segment {
			continue
		}
		pend.seq++
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
			Scores:        w.scoreList(res),
			Metrics:       w.metricList(res),
		}
		w.emitTransition(pend, p.cfg.Topics.SegmentChanges, c.ID, msg.AppendJSON(nil))
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
			HorizonDays:           p.engine.Config().CLV.HorizonDays,
			DaysSinceLastPurchase: float64(res.Metrics.RecencyDays),
			CLV:                   p.money(int64(math.Round(res.Churn.CLV))),
			Cause:                 cause,
			EventTime:             eventTime,
			Time:                  now,
			Sequence:              pend.seq,
			ModelVersion:          res.Churn.Model,
		}
		w.emitTransition(pend, p.cfg.Topics.ChurnRisk, c.ID, msg.AppendJSON(nil))
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
	// copy on first write: the map may be shared with the decoded state
	pub := make(map[string]string, len(pend.published)+1)
	for k, x := range pend.published {
		pub[k] = x
	}
	pend.moves = append(pend.moves, state.Move{Segmentation: key, From: pend.published[key], To: v})
	pub[key] = v
	pend.published = pub
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
func (w *worker) emitTransition(pend *pending, topic, key string, value []byte) {
	w.emit(topic, key, value)
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
// in the store together with their messages (the outbox), publishes the
// output (acks=all), then clears the outbox. A crash after the record
// republishes the recorded messages unchanged when the partition is next
// assigned (flushOutbox); a crash before it recomputes the same
// transitions on replay.
func (w *worker) publishAndRecord(ctx context.Context) error {
	p := w.p
	recs := make([]state.Record, 0, len(w.order))
	var boxed []string
	for _, id := range w.order {
		pend := w.pending[id]
		r := state.Record{CustomerID: id, Published: pend.changed, Moves: pend.moves, Due: pend.due,
			Scores: pend.scores, ScoresChanged: pend.scores != pend.base, PrevContrib: pend.prev, Contrib: pend.contrib}
		if pend.seq != pend.baseSeq {
			r.Seq = pend.seq
		}
		if len(pend.outbox) > 0 {
			r.Outbox = state.EncodeMessages(nil, pend.outbox)
			boxed = append(boxed, id)
		}
		recs = append(recs, r)
	}
	err := p.retry(ctx, "redis record", func(ctx context.Context) error {
		t := time.Now()
		err := p.store.RecordBatch(ctx, w.topic, w.partition, recs)
		p.metrics.RedisDuration.WithLabelValues("record").Observe(time.Since(t).Seconds())
		if err != nil {
			p.metrics.RedisErrors.WithLabelValues("record").Inc()
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := w.publish(ctx, w.out); err != nil {
		return err
	}
	return w.clearOutbox(ctx, boxed)
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
	return w.clearOutbox(ctx, ids)
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
	w.out = w.out[:0]
	w.times = w.times[:0]
	clear(w.pending)
	w.order = w.order[:0]
	env := p.env.Load()
	cause := events.Cause{Kind: events.CauseTime}
	for i := range loaded {
		c := &loaded[i].Customer
		pend := w.pendingFor(c)
		if !loaded[i].Found {
			continue // due is zero: the record removes it from the index
		}
		res := p.engine.Evaluate(c, *env, now)
		w.transitions(pend, c, &res, cause, now, now)
		pend.observe(&res)
		if !pend.due.IsZero() && !pend.due.After(now) {
			// never leave a customer due in the past: that would sweep it
			// on every tick (a zero due time removes it from the index)
			pend.due = now.Add(p.cfg.SweepInterval)
		}
	}
	p.metrics.SweepCustomers.Add(float64(len(ids)))
	// Sweeps use ctx: a sweep cut short is redone by the next tick, with
	// the same output ids.
	return w.publishAndRecord(ctx)
}

func (p *Processor) money(minor int64) events.Money {
	return events.Money{Minor: minor, MinorUnits: p.decoder.MinorUnits(), Currency: p.decoder.BaseCurrency()}
}

// scoreList lists the scores that decided a segment: R, F, M, T and the
// weighted profiles (score.<profile>).
func (w *worker) scoreList(res *scoring.Result) []events.Score {
	out := make([]events.Score, 0, 4+len(res.Profiles))
	out = append(out,
		events.Score{Name: "r", Value: float64(res.Scores.R)},
		events.Score{Name: "f", Value: float64(res.Scores.F)},
		events.Score{Name: "m", Value: float64(res.Scores.M)},
		events.Score{Name: "t", Value: float64(res.Scores.T)},
	)
	for _, ps := range res.Profiles {
		out = append(out, events.Score{Name: "score." + ps.Profile, Value: ps.Score})
	}
	return out
}

// decisiveMetrics are the metrics carried in segment changes.
var decisiveMetrics = []string{"recency_days", "frequency", "monetary", "tenure_days", "margin",
	"open_complaints", "p_alive", "expected_purchases", "clv"}

func (w *worker) metricList(res *scoring.Result) []events.Metric {
	out := make([]events.Metric, 0, len(decisiveMetrics))
	for _, name := range decisiveMetrics {
		if v, ok := res.Metrics.Value(name); ok {
			out = append(out, events.Metric{Name: name, Value: v})
		}
	}
	return out
}
