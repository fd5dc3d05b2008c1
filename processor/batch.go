package processor

import (
	"context"
	"time"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

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
