// Package synth generates deterministic input-event streams for tests and
// benchmarks, together with the state they must produce, computed
// independently of the processor and the store.
package synth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Message is one Kafka message to produce.
type Message struct {
	Key   string
	Value []byte
	Bad   string // non-empty: the message is malformed, and why
}

// Expected is the independently computed per-customer aggregate of the
// good, unique events of a stream.
type Expected struct {
	Sales       int64
	Money       int64 // net minor units: sales minus refunds
	Refunds     int64
	RefundMoney int64
	Complaints  int64
	Contacts    int64
	FirstSeen   time.Time
	LastEvent   time.Time
	LastSale    time.Time
}

// Stream is a generated stream.
type Stream struct {
	Messages []Message
	Expected map[string]*Expected
	Good     int // good, unique events
	Dups     int // exact duplicates of good events
	Bad      int // malformed messages
}

// Options shape a stream.
type Options struct {
	Seed      uint64
	Customers int
	Events    int       // good unique events
	DupRate   float64   // fraction of good events sent twice
	Bad       int       // malformed messages
	Start     time.Time // events spread over [Start, Start+Span)
	Span      time.Duration
	IDPrefix  string // prefixes customer and event ids so tests do not collide
}

// CustomerID returns the id of customer i. Ids include braces, spaces and
// non-ASCII characters on purpose: the store must take any id.
func CustomerID(prefix string, i int) string {
	switch i % 7 {
	case 0:
		return fmt.Sprintf("%s{c}%d", prefix, i)
	case 1:
		return fmt.Sprintf("%s client %d", prefix, i)
	case 2:
		return fmt.Sprintf("%sklient-ü-%d", prefix, i)
	case 3:
		return fmt.Sprintf("%s}%d{", prefix, i)
	default:
		return fmt.Sprintf("%sc-%d", prefix, i)
	}
}

// Generate builds a stream.
func Generate(o Options) *Stream {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	s := &Stream{Expected: map[string]*Expected{}}
	step := o.Span / time.Duration(max(o.Events, 1))
	for i := range o.Events {
		cid := CustomerID(o.IDPrefix, r.IntN(o.Customers))
		t := o.Start.Add(time.Duration(i) * step).UTC().Truncate(time.Second)
		id := fmt.Sprintf("%se-%d", o.IDPrefix, i)
		ev := map[string]any{"id": id, "customer_id": cid, "time": t.Format(time.RFC3339)}
		e := s.Expected[cid]
		if e == nil {
			e = &Expected{FirstSeen: t}
			s.Expected[cid] = e
		}
		if t.Before(e.FirstSeen) {
			e.FirstSeen = t
		}
		if t.After(e.LastEvent) {
			e.LastEvent = t
		}
		switch x := r.Float64(); {
		case x < 0.6:
			cents := int64(100 + r.IntN(20000))
			ev["type"] = "purchase"
			ev["order_id"] = "o-" + id
			ev["currency"] = "USD"
			// alternate string and number amounts
			if i%2 == 0 {
				ev["amount"] = fmt.Sprintf("%d.%02d", cents/100, cents%100)
			} else {
				ev["amount"] = json.Number(fmt.Sprintf("%d.%02d", cents/100, cents%100))
			}
			if r.IntN(20) == 0 && e.Sales > 0 {
				ev["kind"] = "refund"
				e.Refunds++
				e.RefundMoney += cents
				e.Money -= cents
			} else {
				e.Sales++
				e.Money += cents
				if t.After(e.LastSale) {
					e.LastSale = t
				}
			}
		case x < 0.75:
			ev["type"] = "complaint"
			ev["complaint_id"] = "k-" + id
			ev["severity"] = []string{"low", "medium", "high", "critical"}[r.IntN(4)]
			ev["status"] = "opened"
			e.Complaints++
		default:
			ev["type"] = "contact"
			ev["contact_id"] = "t-" + id
			ev["channel"] = []string{"email", "sms", "phone", "push"}[r.IntN(4)]
			ev["direction"] = []string{"inbound", "outbound"}[r.IntN(2)]
			e.Contacts++
		}
		v, err := json.Marshal(ev)
		if err != nil {
			panic(err) // maps of strings and numbers always marshal
		}
		s.Messages = append(s.Messages, Message{Key: cid, Value: v})
		s.Good++
		if r.Float64() < o.DupRate {
			s.Messages = append(s.Messages, Message{Key: cid, Value: v})
			s.Dups++
		}
	}
	for i := range o.Bad {
		cid := CustomerID(o.IDPrefix, r.IntN(o.Customers))
		m := badMessage(i, cid, o.IDPrefix+"bad-"+strconv.Itoa(i), o.Start)
		// insert at a random place so bad input is interleaved with good
		at := r.IntN(len(s.Messages) + 1)
		s.Messages = append(s.Messages, Message{})
		copy(s.Messages[at+1:], s.Messages[at:])
		s.Messages[at] = m
		s.Bad++
	}
	return s
}

// badMessage returns malformed message number i, cycling through kinds.
func badMessage(i int, cid, id string, t time.Time) Message {
	ts := t.Format(time.RFC3339)
	kinds := []struct{ why, v string }{
		{"not json", `{"id": "` + id + `", "type": "purchase",`},
		{"missing id", `{"type":"purchase","customer_id":` + q(cid) + `,"time":"` + ts + `","order_id":"o","amount":"1.00","currency":"USD"}`},
		{"negative amount", `{"id":` + q(id) + `,"type":"purchase","customer_id":` + q(cid) + `,"time":"` + ts + `","order_id":"o","amount":"-3","currency":"USD"}`},
		{"unknown type", `{"id":` + q(id) + `,"type":"visit","customer_id":` + q(cid) + `,"time":"` + ts + `"}`},
		{"bad severity", `{"id":` + q(id) + `,"type":"complaint","customer_id":` + q(cid) + `,"time":"` + ts + `","complaint_id":"k","severity":"apocalyptic"}`},
		{"bad time", `{"id":` + q(id) + `,"type":"contact","customer_id":` + q(cid) + `,"time":"yesterday","contact_id":"c","channel":"email","direction":"inbound"}`},
		{"unknown currency", `{"id":` + q(id) + `,"type":"purchase","customer_id":` + q(cid) + `,"time":"` + ts + `","order_id":"o","amount":"1.00","currency":"XQZ"}`},
		{"too many decimals", `{"id":` + q(id) + `,"type":"purchase","customer_id":` + q(cid) + `,"time":"` + ts + `","order_id":"o","amount":"1.001","currency":"USD"}`},
		{"empty customer", `{"id":` + q(id) + `,"type":"contact","customer_id":"","time":"` + ts + `","contact_id":"c","channel":"email","direction":"inbound"}`},
		{"key mismatch", `{"id":` + q(id) + `,"type":"contact","customer_id":"someone-else","time":"` + ts + `","contact_id":"c","channel":"email","direction":"inbound"}`},
	}
	k := kinds[i%len(kinds)]
	return Message{Key: cid, Value: []byte(k.v), Bad: k.why}
}

func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
