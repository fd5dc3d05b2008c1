package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/clienting/clienting/scoring"
)

// State is everything the store keeps for one customer: what the scorer
// reads (the embedded scoring.Customer, with the published segments,
// sequence, scores and population contribution of the last evaluation) and
// what exactly-once application needs (watermarks, recent event ids, source
// sequences), plus the customer's next due time.
type State struct {
	scoring.Customer

	// Watermarks are the highest applied offsets, one per input partition
	// the customer's events came from (usually one).
	Watermarks []Watermark
	// Recent are the event ids applied within the dedupe window (by event
	// time, against LastEvent), newest first.
	Recent []RecentID
	// Sources are the highest applied source_seq per source.
	Sources []SourceSeq
	// Due is when the customer is next due for re-evaluation without an
	// event (zero: not on the due index).
	Due time.Time
}

// Watermark is the highest applied offset of one input partition.
type Watermark struct {
	Partition PartitionID
	Offset    int64
}

// PartitionID names an input partition compactly: a 32-bit hash of the
// topic name and the partition number.
type PartitionID uint64

// PartitionOf returns the PartitionID of a topic partition.
func PartitionOf(topic string, partition int) PartitionID {
	return PartitionID(uint64(topicHash(topic))<<32 | uint64(uint32(partition)))
}

// RecentID is an applied event's id hash and event time (unix seconds).
type RecentID struct {
	Hash uint64
	Time int64
}

// SourceSeq is the highest applied source_seq of the events of a source.
type SourceSeq struct {
	Source string
	Seq    int64
}

// Watermark returns the offset applied for partition p, or -1.
func (s *State) Watermark(p PartitionID) int64 {
	for _, w := range s.Watermarks {
		if w.Partition == p {
			return w.Offset
		}
	}
	return -1
}

func (s *State) setWatermark(p PartitionID, off int64) {
	for i := range s.Watermarks {
		if s.Watermarks[i].Partition == p {
			s.Watermarks[i].Offset = off
			return
		}
	}
	s.Watermarks = append(s.Watermarks, Watermark{Partition: p, Offset: off})
}

// reset empties s for customer id, keeping the memory of its slices and
// map (which must not be shared with another State).
func (s *State) reset(id string) {
	published := s.Published
	clear(published)
	*s = State{
		Customer:   scoring.Customer{ID: id, Window: s.Window[:0], Published: published},
		Watermarks: s.Watermarks[:0],
		Recent:     s.Recent[:0],
		Sources:    s.Sources[:0],
	}
}

// Version is the version byte of the values the store writes. Values of
// Version-1 (VersionPrevious) are read too; a value of any other version
// is an error.
const (
	Version         = 2
	VersionPrevious = 1 // the hash of release 1 (see legacy.go), read and rewritten as Version
)

// maxWatermarks bounds a value's watermarks (one byte counts them).
const maxWatermarks = 255

// Presence bits of the optional fields of a value.
const (
	hasLastEvent = 1 << iota
	hasFirstPurchase
	hasLastPurchase
	hasLastComplaint
	hasLastContact
	hasPurchases
	hasPurchaseDays
	hasMoney
	hasMargin
	hasRefunds
	hasRefundMoney
	hasComplaints
	hasOpen
	hasContacts
	hasContactsSince
	hasResponses
	hasSeq
	hasScores
	hasContrib
	hasDue
	hasWindow
	hasRecent
	hasSources
	hasPublished
)

// Names maps the names a value refers to (segmentations, segments,
// churn-risk levels, sources) to small numbers and back. Values hold the
// numbers; Store keeps the mapping in Redis (see names.go).
type Names interface {
	ID(name string) (uint64, bool)
	Name(id uint64) (string, bool)
}

var errCorrupt = errors.New("corrupt state value")

// AppendValue appends s encoded as a Version value to dst. Every name s
// refers to must have an id in names.
//
// Layout (all integers big-endian or varints; times unix seconds):
//
//	byte     version (2)
//	byte     W, the number of watermarks
//	W x 16   watermark: partition id (8 bytes), offset (8 bytes)
//	varint   FirstSeen (zigzag); a value with no event has FirstSeen 0
//	uvarint  presence bits (hasLastEvent ...), then the present fields
//	         in bit order:
//	  times          uvarint seconds after FirstSeen
//	  counts         uvarint; money and margin zigzag varints
//	  open           4 x uvarint, open complaints by severity 1..4
//	  scores         uvarint, the four scores in 4-bit nibbles
//	  contrib        4 x zigzag varint, the population bins
//	  due            zigzag varint, unix milliseconds minus FirstSeen*1000
//	  window         uvarint n, then per bucket: the day (the first as a
//	                 zigzag varint, then the uvarint gap to the previous),
//	                 zigzag count, zigzag money, zigzag margin
//	  recent         uvarint n, then per id: 8-byte hash, uvarint seconds
//	                 before LastEvent (0 when after it)
//	  sources        uvarint n, then per source: uvarint name id, uvarint seq
//	  published      uvarint n, then per entry: uvarint name id of the
//	                 segmentation (or "churn"), uvarint name id of the value
//
// The watermarks come first and have a fixed width, so the write script
// can fence a write by reading them without decoding the rest.
func AppendValue(dst []byte, s *State, names Names) ([]byte, error) {
	if len(s.Watermarks) > maxWatermarks {
		return dst, fmt.Errorf("state: customer %q: %d watermarks, at most %d", s.ID, len(s.Watermarks), maxWatermarks)
	}
	dst = append(dst, Version, byte(len(s.Watermarks)))
	for _, w := range s.Watermarks {
		dst = binary.BigEndian.AppendUint64(dst, uint64(w.Partition))
		dst = binary.BigEndian.AppendUint64(dst, uint64(w.Offset))
	}
	c := &s.Customer
	fs := unixOf(c.FirstSeen)
	dst = binary.AppendVarint(dst, fs)
	var bits uint64
	set := func(bit uint64, present bool) {
		if present {
			bits |= bit
		}
	}
	set(hasLastEvent, !c.LastEvent.IsZero())
	set(hasFirstPurchase, !c.FirstPurchase.IsZero())
	set(hasLastPurchase, !c.LastPurchase.IsZero())
	set(hasLastComplaint, !c.LastComplaint.IsZero())
	set(hasLastContact, !c.LastContact.IsZero())
	set(hasPurchases, c.Purchases != 0)
	set(hasPurchaseDays, c.PurchaseDays != 0)
	set(hasMoney, c.Money != 0)
	set(hasMargin, c.Margin != 0)
	set(hasRefunds, c.Refunds != 0)
	set(hasRefundMoney, c.RefundMoney != 0)
	set(hasComplaints, c.Complaints != 0)
	set(hasOpen, c.OpenBySeverity != [5]int64{})
	set(hasContacts, c.Contacts != 0)
	set(hasContactsSince, c.ContactsSinceLastPurchase != 0)
	set(hasResponses, c.Responses != 0)
	set(hasSeq, c.Seq != 0)
	set(hasScores, c.Scores != [4]int8{})
	set(hasContrib, c.Contrib.Active)
	set(hasDue, !s.Due.IsZero())
	set(hasWindow, len(c.Window) > 0)
	set(hasRecent, len(s.Recent) > 0)
	set(hasSources, len(s.Sources) > 0)
	set(hasPublished, len(c.Published) > 0)
	dst = binary.AppendUvarint(dst, bits)

	rel := func(t time.Time) { dst = binary.AppendUvarint(dst, uint64(unixOf(t)-fs)) }
	if bits&hasLastEvent != 0 {
		rel(c.LastEvent)
	}
	if bits&hasFirstPurchase != 0 {
		rel(c.FirstPurchase)
	}
	if bits&hasLastPurchase != 0 {
		rel(c.LastPurchase)
	}
	if bits&hasLastComplaint != 0 {
		rel(c.LastComplaint)
	}
	if bits&hasLastContact != 0 {
		rel(c.LastContact)
	}
	for _, f := range [...]struct {
		bit    uint64
		v      int64
		signed bool
	}{
		{hasPurchases, c.Purchases, false}, {hasPurchaseDays, c.PurchaseDays, false},
		{hasMoney, c.Money, true}, {hasMargin, c.Margin, true},
		{hasRefunds, c.Refunds, false}, {hasRefundMoney, c.RefundMoney, true},
		{hasComplaints, c.Complaints, false},
	} {
		if bits&f.bit != 0 {
			dst = appendInt(dst, f.v, f.signed)
		}
	}
	if bits&hasOpen != 0 {
		for _, n := range c.OpenBySeverity[1:] {
			dst = binary.AppendUvarint(dst, uint64(n))
		}
	}
	for _, f := range [...]struct {
		bit uint64
		v   int64
	}{{hasContacts, c.Contacts}, {hasContactsSince, c.ContactsSinceLastPurchase}, {hasResponses, c.Responses}, {hasSeq, c.Seq}} {
		if bits&f.bit != 0 {
			dst = binary.AppendUvarint(dst, uint64(f.v))
		}
	}
	if bits&hasScores != 0 {
		var packed uint64
		for i, v := range c.Scores {
			packed |= uint64(uint8(v)&0xf) << (4 * i)
		}
		dst = binary.AppendUvarint(dst, packed)
	}
	if bits&hasContrib != 0 {
		for _, v := range [4]int32{c.Contrib.Recency, c.Contrib.Frequency, c.Contrib.Monetary, c.Contrib.Tenure} {
			dst = binary.AppendVarint(dst, int64(v))
		}
	}
	if bits&hasDue != 0 {
		dst = binary.AppendVarint(dst, s.Due.UnixMilli()-fs*1000)
	}
	if bits&hasWindow != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(c.Window)))
		var prev int64
		for i, b := range c.Window {
			if i == 0 {
				dst = binary.AppendVarint(dst, b.Day)
			} else {
				dst = binary.AppendUvarint(dst, uint64(b.Day-prev))
			}
			prev = b.Day
			dst = binary.AppendVarint(dst, b.Count)
			dst = binary.AppendVarint(dst, b.Money)
			dst = binary.AppendVarint(dst, b.Margin)
		}
	}
	if bits&hasRecent != 0 {
		last := unixOf(c.LastEvent)
		dst = binary.AppendUvarint(dst, uint64(len(s.Recent)))
		for _, r := range s.Recent {
			dst = binary.BigEndian.AppendUint64(dst, r.Hash)
			dst = binary.AppendUvarint(dst, uint64(max(last-r.Time, 0)))
		}
	}
	if bits&hasSources != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(s.Sources)))
		for _, q := range s.Sources {
			id, ok := names.ID(q.Source)
			if !ok {
				return dst, fmt.Errorf("state: source %q: %w", q.Source, errUnknownName)
			}
			dst = binary.AppendUvarint(dst, id)
			dst = binary.AppendUvarint(dst, uint64(q.Seq))
		}
	}
	if bits&hasPublished != 0 {
		// in the order of the segmentations' numbers, so that a state has
		// one encoding
		var fixed [16][2]uint64
		pairs := fixed[:0]
		for k, v := range c.Published {
			kid, ok1 := names.ID(k)
			vid, ok2 := names.ID(v)
			if !ok1 || !ok2 {
				return dst, fmt.Errorf("state: published %q=%q: %w", k, v, errUnknownName)
			}
			pairs = append(pairs, [2]uint64{kid, vid})
			for i := len(pairs) - 1; i > 0 && pairs[i][0] < pairs[i-1][0]; i-- {
				pairs[i], pairs[i-1] = pairs[i-1], pairs[i]
			}
		}
		dst = binary.AppendUvarint(dst, uint64(len(pairs)))
		for _, kv := range pairs {
			dst = binary.AppendUvarint(dst, kv[0])
			dst = binary.AppendUvarint(dst, kv[1])
		}
	}
	return dst, nil
}

// names lists the names s refers to (for ids to be assigned before
// AppendValue).
func (s *State) names(fn func(string)) {
	for _, q := range s.Sources {
		fn(q.Source)
	}
	for k, v := range s.Published {
		fn(k)
		fn(v)
	}
}

func appendInt(dst []byte, v int64, signed bool) []byte {
	if signed {
		return binary.AppendVarint(dst, v)
	}
	return binary.AppendUvarint(dst, uint64(v))
}

// unixOf returns t in unix seconds, 0 for the zero time.
func unixOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// reader decodes a value, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (r *reader) unknown(id uint64) {
	if r.err == nil {
		r.err = fmt.Errorf("%w id %d", errUnknownName, id)
	}
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	return consume(r, n, v)
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	return consume(r, n, v)
}

// consume skips the n bytes a number took (n <= 0: truncated) and
// returns it, or 0 after a failure.
func consume[T int64 | uint64](r *reader, n int, v T) T {
	if n <= 0 {
		r.fail("truncated number")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int(signed bool) int64 {
	if signed {
		return r.varint()
	}
	u := r.uvarint()
	if u > math.MaxInt64 {
		r.fail("count out of range")
	}
	return int64(u)
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads a slice length, bounded by the bytes left (each element
// takes at least min bytes).
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minBytes) {
		r.fail("count larger than the value")
		return 0
	}
	return int(n)
}

// DecodeValue decodes a Version value of customer id into s, reusing s's
// memory.
func DecodeValue(id string, b []byte, s *State, names Names) error {
	s.reset(id)
	if len(b) > 0 && b[0] != Version {
		return fmt.Errorf("state: customer %q: value version %d, want %d", id, b[0], Version)
	}
	if len(b) == 0 {
		return fmt.Errorf("state: customer %q: %w: empty", id, errCorrupt)
	}
	if len(b) < 2 {
		return fmt.Errorf("state: customer %q: %w: truncated after the version", id, errCorrupt)
	}
	nw := int(b[1])
	b = b[2:]
	if len(b) < 16*nw {
		return fmt.Errorf("state: customer %q: %w: watermarks truncated", id, errCorrupt)
	}
	for range nw {
		s.Watermarks = append(s.Watermarks, Watermark{
			Partition: PartitionID(binary.BigEndian.Uint64(b)), Offset: int64(binary.BigEndian.Uint64(b[8:])),
		})
		b = b[16:]
	}
	r := reader{b: b}
	c := &s.Customer
	fs := r.varint()
	if fs != 0 {
		c.FirstSeen = fromUnix(fs)
	}
	bits := r.uvarint()
	rel := func() time.Time { return fromUnix(fs + int64(r.uvarint())) }
	if bits&hasLastEvent != 0 {
		c.LastEvent = rel()
	}
	if bits&hasFirstPurchase != 0 {
		c.FirstPurchase = rel()
	}
	if bits&hasLastPurchase != 0 {
		c.LastPurchase = rel()
	}
	if bits&hasLastComplaint != 0 {
		c.LastComplaint = rel()
	}
	if bits&hasLastContact != 0 {
		c.LastContact = rel()
	}
	for _, f := range [...]struct {
		bit    uint64
		p      *int64
		signed bool
	}{
		{hasPurchases, &c.Purchases, false}, {hasPurchaseDays, &c.PurchaseDays, false},
		{hasMoney, &c.Money, true}, {hasMargin, &c.Margin, true},
		{hasRefunds, &c.Refunds, false}, {hasRefundMoney, &c.RefundMoney, true},
		{hasComplaints, &c.Complaints, false},
	} {
		if bits&f.bit != 0 {
			*f.p = r.int(f.signed)
		}
	}
	if bits&hasOpen != 0 {
		for i := 1; i < len(c.OpenBySeverity); i++ {
			c.OpenBySeverity[i] = r.int(false)
		}
	}
	for _, f := range [...]struct {
		bit uint64
		p   *int64
	}{{hasContacts, &c.Contacts}, {hasContactsSince, &c.ContactsSinceLastPurchase}, {hasResponses, &c.Responses}, {hasSeq, &c.Seq}} {
		if bits&f.bit != 0 {
			*f.p = r.int(false)
		}
	}
	if bits&hasScores != 0 {
		packed := r.uvarint()
		for i := range c.Scores {
			c.Scores[i] = int8(packed >> (4 * i) & 0xf)
		}
	}
	if bits&hasContrib != 0 {
		var v [4]int32
		for i := range v {
			x := r.varint()
			if x < math.MinInt32 || x > math.MaxInt32 {
				r.fail("population bin out of range")
			}
			v[i] = int32(x)
		}
		c.Contrib = scoring.Contrib{Active: true, Recency: v[0], Frequency: v[1], Monetary: v[2], Tenure: v[3]}
	}
	if bits&hasDue != 0 {
		s.Due = time.UnixMilli(fs*1000 + r.varint()).UTC()
	}
	if bits&hasWindow != 0 {
		n := r.count(4)
		var day int64
		for i := range n {
			if i == 0 {
				day = r.varint()
			} else {
				day += int64(r.uvarint())
			}
			c.Window = append(c.Window, scoring.Bucket{Day: day, Count: r.varint(), Money: r.varint(), Margin: r.varint()})
		}
	}
	if bits&hasRecent != 0 {
		n := r.count(9)
		last := unixOf(c.LastEvent)
		for range n {
			h := r.u64()
			s.Recent = append(s.Recent, RecentID{Hash: h, Time: last - int64(r.uvarint())})
		}
	}
	if bits&hasSources != 0 {
		n := r.count(2)
		for range n {
			id, seq := r.uvarint(), r.int(false)
			name, ok := names.Name(id)
			if !ok {
				r.unknown(id)
			}
			s.Sources = append(s.Sources, SourceSeq{Source: name, Seq: seq})
		}
	}
	if bits&hasPublished != 0 {
		n := r.count(2)
		if c.Published == nil && n > 0 {
			c.Published = make(map[string]string, n)
		}
		for range n {
			kid, vid := r.uvarint(), r.uvarint()
			k, ok1 := names.Name(kid)
			v, ok2 := names.Name(vid)
			if !ok1 {
				r.unknown(kid)
			}
			if !ok2 {
				r.unknown(vid)
			}
			c.Published[k] = v
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("state: customer %q: %w", id, r.err)
	}
	return nil
}

// errUnknownName is what the errors of DecodeValue and AppendValue wrap
// when a name or its number is not (yet) known locally: the store numbers
// or reloads its names and tries again.
var errUnknownName = errors.New("unknown name")
