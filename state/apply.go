package state

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
)

// Outcome says what applying an event did.
type Outcome uint8

// Outcomes of Apply.
const (
	Applied    Outcome = iota // the event changed the state
	Redelivery                // the message's offset was already applied
	Duplicate                 // an event with the same id within the dedupe window, or of the same source with a source_seq at or below the highest applied, was applied
	Rejected                  // applying the event would break a bound (see Apply); nothing but the watermark changed
)

// String names the outcome as used in metric labels.
func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Redelivery:
		return "redelivery"
	case Duplicate:
		return "duplicate"
	case Rejected:
		return "rejected"
	default:
		return "unknown"
	}
}

// Input is one event to apply, with where it was read from.
type Input struct {
	Event     *events.Event
	Partition PartitionID
	Offset    int64
	// Response marks a contact as a response of the customer.
	Response bool
}

// Rules are the parameters of Apply.
type Rules struct {
	// BucketDays is the width of a rolling-window bucket; WindowDays the
	// rolling window.
	BucketDays, WindowDays int64
	// DedupeWindow is how far back in event time (before the customer's
	// latest event) an event id is remembered.
	DedupeWindow time.Duration
	// MaxRecent bounds the remembered event ids per customer; past it the
	// oldest are forgotten even within DedupeWindow.
	MaxRecent int
}

// Report says what Apply did besides its outcome.
type Report struct {
	// Forgotten counts event ids dropped from the dedupe memory within the
	// window because the memory held MaxRecent ids.
	Forgotten int
}

// Apply applies one event to a customer's state s (which must be the
// state of the event's customer, empty for a new customer) and says what
// it did:
//
//   - Redelivery: the offset is at or below the customer's watermark for
//     the input partition; s is unchanged.
//   - Duplicate: the event id was applied within r.DedupeWindow of event
//     time (however many events came in between), or the event's
//     source_seq is at or below the highest applied of its source; only
//     the watermark moves.
//   - Rejected: a sum would leave the 64-bit range; the error (an
//     *events.DecodeError with reason overflow) names the field. Only the
//     watermark moves, so a redelivery is not rejected twice.
//   - Applied: the aggregates, rolling window, watermark, dedupe memory
//     and source sequence reflect the event.
//
// Apply does no I/O and allocates only when a slice of s grows.
func Apply(s *State, in *Input, r *Rules) (Outcome, Report, error) {
	if t := in.Event.Time; t.Nanosecond() != 0 || t.Location() != time.UTC {
		// states keep whole seconds in UTC: apply the event at that time,
		// so that a state read back from Redis equals the one applied
		ev := *in.Event
		ev.Time = fromUnix(t.Unix())
		whole := *in
		whole.Event = &ev
		in = &whole
	}
	e := in.Event
	var rep Report
	if s.Watermark(in.Partition) >= in.Offset {
		return Redelivery, rep, nil
	}
	h := xxhash.Sum64String(e.ID)
	for _, id := range s.Recent {
		if id.Hash == h {
			s.setWatermark(in.Partition, in.Offset)
			return Duplicate, rep, nil
		}
	}
	src := -1
	if e.Source != "" {
		for i := range s.Sources {
			if s.Sources[i].Source == e.Source {
				src = i
				if e.SourceSeq <= s.Sources[i].Seq {
					s.setWatermark(in.Partition, in.Offset)
					return Duplicate, rep, nil
				}
			}
		}
	}
	if err := applyEvent(&s.Customer, in, r); err != nil {
		s.setWatermark(in.Partition, in.Offset)
		return Rejected, rep, err
	}
	s.setWatermark(in.Partition, in.Offset)
	if e.Source != "" {
		if src >= 0 {
			s.Sources[src].Seq = e.SourceSeq
		} else {
			s.Sources = append(s.Sources, SourceSeq{Source: e.Source, Seq: e.SourceSeq})
		}
	}
	rep.Forgotten = s.remember(h, e.Time.Unix(), r)
	return Applied, rep, nil
}

// remember puts an applied event id first in the dedupe memory, then drops
// the ids older than the window and, past MaxRecent, the oldest ones; it
// returns how many of those were still within the window.
func (s *State) remember(h uint64, t int64, r *Rules) int {
	s.Recent = append(s.Recent, RecentID{})
	copy(s.Recent[1:], s.Recent)
	s.Recent[0] = RecentID{Hash: h, Time: t}
	cut := s.LastEvent.Unix() - int64(r.DedupeWindow/time.Second)
	kept := s.Recent[:0]
	for _, id := range s.Recent {
		if id.Time >= cut {
			kept = append(kept, id)
		}
	}
	s.Recent = kept
	forgotten := 0
	if len(s.Recent) > r.MaxRecent {
		forgotten = len(s.Recent) - r.MaxRecent
		s.Recent = s.Recent[:r.MaxRecent]
	}
	return forgotten
}

// applyEvent applies e's content to c, or returns an overflow error and
// leaves c unchanged: every sum is checked before anything is written.
func applyEvent(c *scoring.Customer, in *Input, r *Rules) error {
	e := in.Event
	t := e.Time.Unix()
	switch e.Type {
	case events.TypePurchase:
		return applyPurchase(c, e, t, r)
	case events.TypeComplaint:
		return applyComplaint(c, e, t)
	case events.TypeContact:
		return applyContact(c, in, t)
	}
	touch(c, e.Time)
	return nil
}

// touch updates the first and latest event time.
func touch(c *scoring.Customer, t time.Time) {
	if c.FirstSeen.IsZero() || t.Before(c.FirstSeen) {
		c.FirstSeen = t
	}
	if c.LastEvent.IsZero() || t.After(c.LastEvent) {
		c.LastEvent = t
	}
}

// checked collects additions and reports the first that overflows.
type checked struct {
	field string
	over  bool
}

func (k *checked) add(field string, a, b int64) int64 {
	s, over := addInt64(a, b)
	if over && !k.over {
		k.over, k.field = true, field
	}
	return s
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// neg returns -v, or reports an overflow for math.MinInt64.
func (k *checked) neg(field string, v int64) int64 {
	if v == math.MinInt64 && !k.over {
		k.over, k.field = true, field
	}
	return -v
}

// overflow is the error of an event whose field would take the customer's
// sum past the 64-bit range.
func overflow(e *events.Event, field, sum, value string) error {
	return &events.DecodeError{
		Field: field, Value: value, Reason: events.ReasonOverflow,
		Rule: "applying event " + strconv.Quote(e.ID) + " would take the customer's " + sum + " past the 64-bit range",
	}
}

func applyPurchase(c *scoring.Customer, e *events.Event, t int64, r *Rules) error {
	p := &e.Purchase
	var k checked
	amt, mg := p.Amount, p.Margin
	purchases, refunds, refundMoney := c.Purchases, c.Refunds, c.RefundMoney
	var sales int64 // sales the event adds to its bucket
	if p.Refund {
		amt, mg = k.neg("money", amt), k.neg("margin", mg)
		refunds = k.add("refunds", refunds, 1)
		refundMoney = k.add("refunded money", refundMoney, p.Amount)
	} else {
		purchases = k.add("purchases", purchases, 1)
		sales = 1
	}
	money := k.add("money", c.Money, amt)
	margin := k.add("margin", c.Margin, mg)
	newLastEvent := c.LastEvent
	if newLastEvent.IsZero() || e.Time.After(newLastEvent) {
		newLastEvent = e.Time
	}
	bd, wd := r.BucketDays, r.WindowDays
	day := floorDiv(t, 86400)
	start := floorDiv(day, bd) * bd
	latest := floorDiv(newLastEvent.Unix(), 86400)
	inWindow := start+bd > latest-wd
	bi := -1
	var b scoring.Bucket
	if inWindow {
		for i := range c.Window {
			if c.Window[i].Day == start {
				bi = i
				b = c.Window[i]
				break
			}
		}
		if bi < 0 {
			b = scoring.Bucket{Day: start}
		}
		b.Count = k.add("window sales", b.Count, sales)
		b.Money = k.add("window money", b.Money, amt)
		b.Margin = k.add("window margin", b.Margin, mg)
	}
	if k.over {
		field, v := "amount", p.Amount
		if strings.Contains(k.field, "margin") {
			field, v = "margin", p.Margin
		}
		return overflow(e, field, k.field, strconv.FormatInt(v, 10))
	}

	// nothing overflows: write
	touch(c, e.Time)
	c.Money, c.Margin = money, margin
	if p.Refund {
		c.Refunds, c.RefundMoney = refunds, refundMoney
	} else {
		c.Purchases = purchases
		// a sale on a day already counted (that of the earliest or latest
		// sale) is not a new purchase day; exact for in-order streams
		newDay := true
		if !c.LastPurchase.IsZero() && floorDiv(c.LastPurchase.Unix(), 86400) == day {
			newDay = false
		}
		if !c.FirstPurchase.IsZero() && floorDiv(c.FirstPurchase.Unix(), 86400) == day {
			newDay = false
		}
		if newDay {
			c.PurchaseDays++
		}
		if c.FirstPurchase.IsZero() || e.Time.Before(c.FirstPurchase) {
			c.FirstPurchase = e.Time
		}
		if c.LastPurchase.IsZero() || e.Time.After(c.LastPurchase) {
			c.LastPurchase = e.Time
			c.ContactsSinceLastPurchase = 0
		}
	}
	if !inWindow {
		return nil
	}
	if bi >= 0 {
		c.Window[bi] = b
		return nil
	}
	// a new bucket: drop those that left the window, so a customer holds
	// at most WindowDays/BucketDays+2 buckets, and keep the order
	cut := latest - wd
	kept := c.Window[:0]
	for _, old := range c.Window {
		if old.Day+bd > cut {
			kept = append(kept, old)
		}
	}
	c.Window = kept
	at := len(c.Window)
	for at > 0 && c.Window[at-1].Day > start {
		at--
	}
	c.Window = append(c.Window, scoring.Bucket{})
	copy(c.Window[at+1:], c.Window[at:])
	c.Window[at] = b
	return nil
}

func applyComplaint(c *scoring.Customer, e *events.Event, t int64) error {
	sev := int(e.Complaint.Severity)
	if sev <= 0 || sev >= len(c.OpenBySeverity) {
		// the decoder gives 1..4; an unknown severity counts in the
		// total only, never as open
		sev = 0
	}
	if !e.Complaint.Resolved {
		var k checked
		total := k.add("complaints", c.Complaints, 1)
		open := c.OpenBySeverity[sev]
		if sev > 0 {
			open = k.add("open complaints", open, 1)
		}
		if k.over {
			return overflow(e, "complaint_id", k.field, e.Complaint.ComplaintID)
		}
		touch(c, e.Time)
		c.Complaints, c.OpenBySeverity[sev] = total, open
		if c.LastComplaint.IsZero() || t > c.LastComplaint.Unix() {
			c.LastComplaint = e.Time
		}
		return nil
	}
	touch(c, e.Time)
	if sev > 0 && c.OpenBySeverity[sev] > 0 {
		c.OpenBySeverity[sev]--
	}
	return nil
}

func applyContact(c *scoring.Customer, in *Input, t int64) error {
	e := in.Event
	var k checked
	contacts := k.add("contacts", c.Contacts, 1)
	since, responses := c.ContactsSinceLastPurchase, c.Responses
	if c.LastPurchase.IsZero() || t > c.LastPurchase.Unix() {
		since = k.add("contacts since the last purchase", since, 1)
	}
	if in.Response {
		responses = k.add("responses", responses, 1)
	}
	if k.over {
		return overflow(e, "contact_id", k.field, e.Contact.ContactID)
	}
	touch(c, e.Time)
	c.Contacts, c.ContactsSinceLastPurchase, c.Responses = contacts, since, responses
	if c.LastContact.IsZero() || t > c.LastContact.Unix() {
		c.LastContact = e.Time
	}
	return nil
}

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// topicHash is the 32-bit hash of a topic name in a PartitionID.
func topicHash(topic string) uint32 {
	h := xxhash.Sum64String(topic)
	return uint32(h>>32) ^ uint32(h)
}
