package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// pending is what a batch (or a sweep) does to one customer: its cached
// state, which the batch's events and evaluations change in place, and
// what the batch's write needs besides it.
type pending struct {
	st     *state.State
	moves  []state.Move
	outbox []state.Message // the transitions' messages, kept until published
	key    []byte          // the customer id, key of its messages
	// what the state held before the batch
	prevContrib scoring.Contrib
	prevDue     time.Time
	prevScores  [4]int8
	prevSeq     int64
	// strict: the batch moved the customer's watermark (it applied,
	// dropped as a duplicate or rejected an event), so the stored
	// watermark must be lower for the write to land; dirty: the batch
	// changed the state
	strict, dirty bool
}

// observe keeps what an evaluation of the customer decided besides
// transitions: its scores, population contribution and next due time.
func (pend *pending) observe(res *scoring.Result) {
	st := pend.st
	st.Scores = res.Scores.Packed()
	st.Contrib = res.Contrib
	st.Due = res.NextDue
}

// changed reports whether the batch changed what the customer's value
// holds.
func (pend *pending) changed() bool {
	st := pend.st
	return pend.dirty || st.Seq != pend.prevSeq || st.Scores != pend.prevScores ||
		st.Contrib != pend.prevContrib || !st.Due.Equal(pend.prevDue)
}

// errRestart asks the partition loop to start again from offset with the
// cache emptied: the batch's write did not land because Redis lost writes
// or another writer wrote the partition.
type errRestart struct {
	offset int64
	reason string
}

// checkpointMoved says why the stored checkpoint is not the one a worker
// expected.
func checkpointMoved(stored, expected state.Checkpoint) string {
	if stored.Offset < expected.Offset {
		return fmt.Sprintf("the checkpoint in Redis is at offset %d, below the %d written: Redis lost writes", stored.Offset, expected.Offset)
	}
	return fmt.Sprintf("another writer moved the checkpoint to %q", stored.Version)
}

func (e *errRestart) Error() string {
	return "restart at offset " + strconv.FormatInt(e.offset, 10) + ": " + e.reason
}

// process decodes, applies and scores one batch, writes the changed
// customers with the batch's checkpoint and what it is to publish, and
// starts publishing; the batch's offset is handed to the committer once its
// output is published. It retries Redis and Kafka until they answer or ctx
// ends. It returns an *errRestart when the partition is to be read again
// from an earlier offset, and any other error only when ctx ended.
func (w *worker) process(ctx context.Context, msgs []inMsg) error {
	p := w.p
	start := time.Now()
	p.metrics.BatchSize.Observe(float64(len(msgs)))
	w.decode(msgs)
	if err := w.load(ctx, msgs[0].offset); err != nil {
		return err
	}
	w.apply(msgs, p.cfg.Now())
	if err := w.write(ctx, msgs[0].offset, msgs[len(msgs)-1].offset+1); err != nil {
		return err
	}
	p.metrics.BatchDuration.Observe(time.Since(start).Seconds())
	return nil
}

// decode starts a batch: it decodes msgs into w.inputs (w.inputMsg: the
// index of each input's message), and dead-letters what does not decode.
func (w *worker) decode(msgs []inMsg) {
	p := w.p
	w.evs = growEvents(w.evs, len(msgs))
	w.inputs = w.inputs[:0]
	w.inputMsg = w.inputMsg[:0]
	w.reset()
	var hdrs []events.Header
	for i := range msgs {
		m := &msgs[i]
		hdrs = hdrs[:0]
		for _, h := range m.headers {
			hdrs = append(hdrs, events.Header{Key: h.Key, Value: h.Value})
		}
		ev, err := p.decoder.Decode(m.key, m.value, hdrs)
		if err != nil {
			w.deadLetter(m, events.TypeUnknown, err)
			continue
		}
		w.evs[i] = ev
		resp := ev.Type == events.TypeContact && (ev.Contact.Inbound || p.responses[ev.Contact.Outcome])
		w.inputs = append(w.inputs, state.Input{
			Event: &w.evs[i], Partition: w.partID, Offset: m.offset, Response: resp,
		})
		w.inputMsg = append(w.inputMsg, i)
	}
}

// load makes every customer of the batch a pending view on a working
// state: decoded from the cache, or read from Redis with the partition's
// checkpoint in one round trip for the customers the cache misses. A
// checkpoint other than the one the worker wrote last means another writer
// wrote the partition or Redis lost writes: it returns an *errRestart.
func (w *worker) load(ctx context.Context, first int64) error {
	for i := range w.inputs {
		w.view(w.inputs[i].Event.CustomerID)
	}
	return w.loadViews(ctx, first)
}

// view returns the batch's pending view of a customer, with a working
// state to be filled by loadViews: from the cache's value or from Redis.
func (w *worker) view(id string) *pending {
	if pend := w.pending[id]; pend != nil {
		return pend
	}
	st := w.workingState()
	if v := w.cache.get(id); v != nil {
		w.hitIDs = append(w.hitIDs, id)
		w.hitValues = append(w.hitValues, v)
		w.hitStates = append(w.hitStates, st)
	} else {
		w.missIDs = append(w.missIDs, id)
		w.missStates = append(w.missStates, st)
	}
	pend := w.newPending()
	pend.st = st
	w.pending[id] = pend
	w.order = append(w.order, id)
	return pend
}

// workingState returns a state of the worker's pool for the batch at hand
// (the pool keeps their slices and maps from batch to batch).
func (w *worker) workingState() *state.State {
	if w.usedStates == len(w.states) {
		w.states = append(w.states, new(state.State))
	}
	st := w.states[w.usedStates]
	w.usedStates++
	return st
}

// loadViews fills the working states queued by view: it decodes the
// cached values, and reads the others and the checkpoint from Redis.
func (w *worker) loadViews(ctx context.Context, first int64) error {
	p := w.p
	var ck state.Checkpoint
	err := p.redisCall(ctx, "load", func(ctx context.Context) error {
		if err := w.decodeHits(ctx); err != nil {
			return err
		}
		var err error
		ck, err = p.store.LoadInto(ctx, w.topic, w.partition, w.missIDs, w.missStates)
		return err
	})
	if err != nil {
		return err
	}
	if ck.Version != w.checkpoint.Version {
		// the cached states may be stale: another writer wrote the
		// partition, or Redis lost writes
		return &errRestart{offset: first, reason: checkpointMoved(ck, w.checkpoint)}
	}
	w.startViews()
	return nil
}

// decodeHits decodes the cached values of the batch's customers into their
// working states (a name another instance numbered meanwhile is read from
// Redis).
func (w *worker) decodeHits(ctx context.Context) error {
	for i, id := range w.hitIDs {
		if err := w.p.store.DecodeInto(ctx, id, w.hitValues[i], w.hitStates[i]); err != nil {
			return err
		}
	}
	return nil
}

// startViews notes, for every customer of the batch, what its state held
// before the batch, and its id in the batch's buffer (the key of its
// messages).
func (w *worker) startViews() {
	for _, id := range w.order {
		pend := w.pending[id]
		st := pend.st
		pend.prevContrib, pend.prevDue, pend.prevScores, pend.prevSeq = st.Contrib, st.Due, st.Scores, st.Seq
		start := len(w.buf)
		w.buf = append(w.buf, id...)
		pend.key = w.buf[start:len(w.buf):len(w.buf)]
	}
}

// apply applies each input to its customer's state (state.Apply), then
// evaluates the customer and emits what changed against what was last
// published for it. Redeliveries and duplicates are evaluated too: a crash
// may have come between the state write and the publish.
func (w *worker) apply(msgs []inMsg, now time.Time) {
	p := w.p
	env := p.env.Load()
	rules := p.store.Rules()
	for i := range w.inputs {
		in := &w.inputs[i]
		ev := in.Event
		pend := w.pending[ev.CustomerID]
		st := pend.st
		outcome, rep, err := state.Apply(st, in, rules)
		if outcome != state.Rejected {
			w.countEvent(ev.Type, outcome)
		}
		if rep.Forgotten > 0 {
			p.metrics.DedupeForgotten.Add(float64(rep.Forgotten))
		}
		if outcome != state.Redelivery {
			pend.strict, pend.dirty = true, true
		}
		if outcome == state.Rejected {
			w.deadLetter(&msgs[w.inputMsg[i]], ev.Type, err)
			continue
		}
		res := &w.res
		p.engine.EvaluateTo(res, &st.Customer, *env, now)
		cause := events.Cause{Kind: events.CauseEvent, EventID: ev.ID}
		n := w.transitions(pend, &st.Customer, res, cause, ev.Time, now)
		if ev.Type == events.TypeComplaint && !ev.Complaint.Resolved {
			// Published for redeliveries and duplicates too: a crash may
			// have come between the state update and this publish. The id
			// is derived from the complaint, so consumers drop repeats.
			w.recovery(&st.Customer, res, ev, now)
			n++
		}
		t := msgs[w.inputMsg[i]].time
		for range n {
			w.times = append(w.times, t)
		}
		pend.observe(res)
	}
}

// maxKeptBuf caps the output buffer a worker keeps between batches. A
// batch of BatchSize events with a transition each needs about 1.5 MB; a
// batch of new customers (five transitions each) or a large sweep needs
// several times that, which is given back rather than held by every worker.
const maxKeptBuf = 4 << 20

// reset empties the per-batch scratch: output, pending views, working
// states, buffer.
func (w *worker) reset() {
	w.usedStates = 0
	clear(w.hitValues) // drop references to cached values
	w.hitIDs, w.hitValues, w.hitStates = w.hitIDs[:0], w.hitValues[:0], w.hitStates[:0]
	w.missIDs, w.missStates = w.missIDs[:0], w.missStates[:0]
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

// newPending returns a cleared pending view from the worker's pool, which
// keeps the capacity of its slices from batch to batch.
func (w *worker) newPending() *pending {
	if w.used == len(w.pool) {
		w.pool = append(w.pool, &pending{})
	}
	pend := w.pool[w.used]
	w.used++
	moves, outbox := pend.moves[:0], pend.outbox[:0]
	clear(outbox[:cap(outbox)]) // drop references to old message values
	*pend = pending{moves: moves, outbox: outbox}
	return pend
}
