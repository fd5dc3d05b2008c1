package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// write makes the batch's (or sweep's) changes durable: it writes the
// changed customers' values, the partition's checkpoint (next; for a sweep
// next is negative and the checkpoint stays) and the transitions' messages
// (the outbox) in one round trip, then starts publishing the output
// (acks=all) in the background; the next offset is handed to the committer
// once that succeeded, and the outbox entries are cleared with the next
// write. A crash after the write republishes the recorded messages
// unchanged when the partition is next assigned (flushOutbox); a crash
// before it recomputes the same transitions on replay.
//
// The previous batch's publish, which ran meanwhile, is waited for before
// the write: so outputs leave in input order, offsets are committed in
// order, and the write clears the previous batch's published outbox.
//
// When the write does not land whole (Redis lost writes, another writer
// wrote the partition, or a customer's write was fenced), the batch's
// customers are dropped from the cache, its output is discarded and an
// *errRestart says where to read the partition again from (first).
func (w *worker) write(ctx context.Context, first, next int64) error {
	p := w.p
	recs := w.recs[:0]
	boxed := w.boxed[:0]
	vals := w.vals[:0]
	for _, id := range w.order {
		pend := w.pending[id]
		st := pend.st
		if next >= 0 && !pend.prevDue.IsZero() && st.Due.After(pend.prevDue) {
			// The due index may hold a time earlier than the customer's
			// due time, never a later one: a batch leaves an earlier entry
			// as it is (most events move the due time later), and the
			// sweep that finds the customer too early re-evaluates it and
			// indexes its due time then. One index write per due period
			// instead of one per event.
			st.Due = pend.prevDue
		}
		r := state.Record{CustomerID: id, Moves: pend.moves, PrevContrib: pend.prevContrib, Contrib: st.Contrib,
			Due: st.Due, DueChanged: !st.Due.Equal(pend.prevDue)}
		if pend.changed() && !st.Empty() {
			start := len(vals)
			var err error
			if vals, err = p.store.AppendValue(ctx, vals, st); err != nil {
				// only the numbering of a new name can fail: retried with
				// the batch by the partition loop
				return &errRestart{offset: first, reason: err.Error()}
			}
			r.Value = vals[start:len(vals):len(vals)]
			r.Offset, r.Strict = st.Watermark(w.partID), pend.strict
		}
		if len(pend.outbox) > 0 {
			start := len(w.buf)
			w.buf = state.EncodeMessages(w.buf, pend.outbox)
			r.Outbox = w.buf[start:len(w.buf):len(w.buf)]
			boxed = append(boxed, id)
		}
		recs = append(recs, r)
	}
	w.recs, w.boxed, w.vals = recs, boxed, vals
	defer clear(recs) // drop references to the batch's values and messages
	if err := w.awaitPublish(); err != nil {
		return err
	}
	batch := state.Batch{Topic: w.topic, Partition: w.partition, Checkpoint: true, Token: w.token,
		Expect: w.checkpoint, Next: max(next, w.checkpoint.Offset), Records: recs, Published: w.published}
	var res state.WriteResult
	err := p.redisCall(ctx, "write", func(ctx context.Context) error {
		var err error
		res, err = p.store.Write(ctx, &batch)
		return err
	})
	if err != nil {
		return err
	}
	w.published = w.published[:0]
	if res.Lost || res.Ahead || len(res.Fenced) > 0 {
		return w.refused(first, &res)
	}
	w.checkpoint = res.Checkpoint
	for i := range recs {
		if recs[i].Value != nil {
			w.cache.put(recs[i].CustomerID, recs[i].Value)
		}
	}
	w.startPublish(ctx, next)
	return nil
}

// refused handles a batch whose write did not land whole: the batch's
// customers leave the cache (another writer may have written them), its
// output is dropped, and the partition is read again from first.
func (w *worker) refused(first int64, res *state.WriteResult) error {
	p := w.p
	for _, id := range w.order {
		w.cache.forget(id)
	}
	w.reset()
	switch {
	case res.Lost:
		return &errRestart{offset: first, reason: checkpointMoved(res.Checkpoint, w.checkpoint)}
	case res.Ahead:
		p.metrics.FencedWrites.Inc()
		return &errRestart{offset: first, reason: checkpointMoved(res.Checkpoint, w.checkpoint)}
	default:
		p.metrics.FencedWrites.Add(float64(len(res.Fenced)))
		return &errRestart{offset: first, reason: fmt.Sprintf("the writes of %d customers were fenced: another owner wrote them", len(res.Fenced))}
	}
}

// publication is a batch's output on its way to Kafka: the messages, the
// buffer they point into, the Kafka timestamps of their causes, and the
// customers whose outbox entries they are.
type publication struct {
	out   []kafka.Message
	buf   []byte
	times []time.Time
	boxed []string
	done  chan struct{}
	err   error
}

// startPublish publishes the batch's output in the background, then hands
// commit to the committer (when not negative) and observes the end-to-end
// latency. The worker goes on with the reusable buffers.
func (w *worker) startPublish(ctx context.Context, commit int64) {
	p := w.p
	pub := &publication{out: w.out, buf: w.buf, times: w.times,
		boxed: append(w.reusable.boxed[:0], w.boxed...), done: make(chan struct{})}
	w.out, w.buf, w.times = w.reusable.out[:0], w.reusable.buf[:0], w.reusable.times[:0]
	w.reusable = publication{}
	w.publishing = pub
	go func() {
		defer close(pub.done)
		if pub.err = w.publish(ctx, pub.out); pub.err != nil {
			return
		}
		if commit >= 0 {
			w.committer.commit(commit)
		}
		done := time.Now()
		for _, t := range pub.times {
			if !t.IsZero() {
				p.metrics.EndToEnd.Observe(done.Sub(t).Seconds())
			}
		}
	}()
}

// awaitPublish waits for the publication under way, if any. Its customers'
// outbox entries are then cleared with the next record (a crash before that
// republishes these messages, with the same ids, which consumers drop), and
// its buffers are kept for reuse. The error is the publish's: it failed
// only because its context ended.
func (w *worker) awaitPublish() error {
	pub := w.publishing
	if pub == nil {
		return nil
	}
	<-pub.done
	w.publishing = nil
	if pub.err != nil {
		return pub.err
	}
	w.published = append(w.published, pub.boxed...)
	clear(pub.out) // drop references to the messages
	if cap(pub.buf) > maxKeptBuf {
		pub.buf = nil
	}
	w.reusable = publication{out: pub.out[:0], buf: pub.buf[:0], times: pub.times[:0], boxed: pub.boxed[:0]}
	return nil
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
		ok, err := p.store.RestorePublished(ctx, w.topic, w.partition, id, published, seq)
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
