package processor

import (
	"crypto/sha256"
	"encoding/hex"
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
	// A dead letter too large to publish whole carries the first
	// MaxDeadLetterBytes of the message and these: the original size in
	// bytes and its SHA-256 (hex).
	HeaderOriginalSize   = "clienting-original-size"
	HeaderOriginalSHA256 = "clienting-original-sha256"
)

// transitions appends the output messages for every segmentation and churn
// level of c that differ from what was last published, and returns how many.
func (w *worker) transitions(pend *pending, c *scoring.Customer, res *scoring.Result, cause events.Cause, eventTime, now time.Time) int {
	p := w.p
	n := 0
	w.listed = false
	for _, a := range res.Segments {
		from := pend.st.Published[a.Segmentation]
		if from == a.Segment {
			continue
		}
		pend.st.Seq++
		scores, metrics := w.lists(res)
		msg := events.SegmentChange{
			ID:            events.OutputID(c.ID, "segment", strconv.FormatInt(pend.st.Seq, 10), a.Segmentation, a.Segment),
			CustomerID:    c.ID,
			Segmentation:  a.Segmentation,
			From:          from,
			To:            a.Segment,
			Cause:         cause,
			EventTime:     eventTime,
			Time:          now,
			Sequence:      pend.st.Seq,
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
	if lvl := res.Churn.Level; lvl != "" && lvl != pend.st.Published[scoring.ChurnKey] {
		from := pend.st.Published[scoring.ChurnKey]
		pend.st.Seq++
		msg := events.ChurnRisk{
			ID:                    events.OutputID(c.ID, "churn", strconv.FormatInt(pend.st.Seq, 10), lvl),
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
			Sequence:              pend.st.Seq,
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
	st := pend.st
	if st.Published == nil {
		st.Published = make(map[string]string, 6)
	}
	pend.moves = append(pend.moves, state.Move{Segmentation: key, From: st.Published[key], To: v})
	st.Published[key] = v
	pend.dirty = true
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

// deadLetter sends a message to the dead-letter topic with the reason
// in its headers, and counts it under its event type (unknown when it did
// not decode).
func (w *worker) deadLetter(m *inMsg, typ events.Type, err error) {
	p := w.p
	reason := string(events.ReasonOf(err))
	p.metrics.DecodeErrors.WithLabelValues(reason).Inc()
	p.metrics.Events.WithLabelValues(typ.String(), "dead_lettered").Inc()
	hdrs := make([]kafka.Header, 0, len(m.headers)+5)
	hdrs = append(hdrs, m.headers...)
	hdrs = append(hdrs,
		kafka.Header{Key: HeaderError, Value: []byte(err.Error())},
		kafka.Header{Key: HeaderReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderTopic, Value: []byte(w.topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(w.partLabel)},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.offset, 10))},
	)
	value := m.value
	if size := len(m.key) + len(m.value) + headersSize(hdrs); size > MaxDeadLetterBytes {
		// Larger than the broker takes by default (and than the writer's
		// batch): keep the start, the size and the hash, so that the copy
		// is published and the partition moves on.
		sum := sha256.Sum256(m.value)
		hdrs = append(hdrs,
			kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(m.value)))},
			kafka.Header{Key: HeaderOriginalSHA256, Value: []byte(hex.EncodeToString(sum[:]))},
		)
		value = value[:max(0, min(len(value), MaxDeadLetterBytes-len(m.key)-headersSize(hdrs)))]
	}
	w.out = append(w.out, kafka.Message{Topic: w.dlq, Key: m.key, Value: value, Headers: hdrs})
}

// MaxDeadLetterBytes bounds a dead letter's key, value and headers, below
// the broker's default message.max.bytes (1 MiB) and the producer's batch
// (1,000,000 bytes) with room for the record's framing.
const MaxDeadLetterBytes = 900_000

func headersSize(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
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
