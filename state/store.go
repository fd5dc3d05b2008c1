package state

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
)

//go:embed apply.lua
var applySource string

var (
	applyScript = redis.NewScript(applySource)
	applySHA    = applyScript.Hash()
)

// ErrUnavailable wraps every error of a call to Redis: the caller retries
// with backoff and does not commit past the batch.
var ErrUnavailable = errors.New("state: redis unavailable")

// Config configures a Store.
type Config struct {
	// Prefix starts every key. Default: "clt".
	Prefix string `yaml:"prefix"`
	// IDMemory is how many recent event ids are kept per customer to catch
	// producer duplicates (1..64). Default: 8.
	IDMemory int `yaml:"id_memory"`
	// BucketDays is the width of a rolling-window bucket. Default: 7.
	BucketDays int `yaml:"-"`
	// WindowDays is the rolling window. Default: 365.
	WindowDays int `yaml:"-"`
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = "clt"
	}
	if c.IDMemory == 0 {
		c.IDMemory = 8
	}
	if c.BucketDays == 0 {
		c.BucketDays = 7
	}
	if c.WindowDays == 0 {
		c.WindowDays = 365
	}
}

// Validate applies defaults and checks the configuration.
func (c *Config) Validate() error {
	c.setDefaults()
	if strings.ContainsAny(c.Prefix, "{}*?[]\\") {
		return fmt.Errorf("state: redis.prefix: %q must not contain braces or glob characters (*?[]\\)", c.Prefix)
	}
	if c.IDMemory < 1 || c.IDMemory > 64 {
		return fmt.Errorf("state: redis.id_memory: %d must be in 1..64", c.IDMemory)
	}
	if c.BucketDays < 1 {
		return fmt.Errorf("state: scoring.bucket_days: %d must be at least 1", c.BucketDays)
	}
	if c.WindowDays < c.BucketDays {
		return fmt.Errorf("state: scoring.window_days: %d must be at least bucket_days (%d)", c.WindowDays, c.BucketDays)
	}
	return nil
}

// Store keeps customer state in Redis.
type Store struct {
	rdb redis.UniversalClient
	cfg Config

	// the constant arguments of the apply script, formatted once
	idMemory, bucketDays, windowDays string
}

// New returns a Store on rdb. It does not talk to Redis.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, cfg: cfg,
		idMemory:   strconv.Itoa(cfg.IDMemory),
		bucketDays: strconv.Itoa(cfg.BucketDays),
		windowDays: strconv.Itoa(cfg.WindowDays),
	}, nil
}

// Config returns the store's configuration with defaults applied.
func (s *Store) Config() Config { return s.cfg }

// CustomerKey is the key of a customer's hash. Every piece of a customer's
// state lives in this one key, so the apply script touches a single key and
// works on Redis Cluster whatever bytes the customer id holds.
func (s *Store) CustomerKey(id string) string {
	return s.cfg.Prefix + ":c:{" + id + "}"
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: ping: %w", ErrUnavailable, err)
	}
	return nil
}

// Outcome says what applying an event did.
type Outcome uint8

// Outcomes of Apply.
const (
	Applied    Outcome = iota // the event changed the state
	Redelivery                // the message's offset was already applied
	Duplicate                 // an event with the same id, or of the same source with a source_seq at or above, was applied
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
	default:
		return "unknown"
	}
}

// Apply is one event to apply, with where it was read from.
type Apply struct {
	Event     *events.Event
	Topic     string
	Partition int
	Offset    int64
	// Response marks a contact as a response of the customer.
	Response bool
}

// Result is the outcome of one Apply and the customer's state after it.
type Result struct {
	Outcome  Outcome
	Customer scoring.Customer
}

// ApplyBatch applies the events in order, in one pipelined round trip, and
// fills out (resized to len(batch)) with each event's outcome and the
// customer state right after it. Applying the same batch again is harmless:
// the per-customer watermark and id memory make it a no-op.
//
// The results reuse the memory of out's previous contents (the customers'
// Window and Published): pass the previous batch's results back in once
// they are no longer used, and do not share those between results.
func (s *Store) ApplyBatch(ctx context.Context, batch []Apply, out []Result) ([]Result, error) {
	if len(batch) == 0 {
		return out[:0], nil
	}
	sc := applyScratchPool.Get().(*applyScratch)
	defer sc.release()
	args := s.applyArgs(sc, batch)
	run := func() ([]*redis.StringCmd, error) {
		cmds := sc.cmds[:0]
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, a := range args {
				c := redis.NewStringCmd(ctx, a...)
				cmds = append(cmds, c)
				_ = p.Process(ctx, c)
			}
			return nil
		})
		sc.cmds = cmds
		return cmds, err
	}
	cmds, err := run()
	if err != nil && isNoScript(err) {
		// Redis forgot the script (restart or SCRIPT FLUSH): load it and
		// replay the whole batch, which the watermark makes safe.
		if lerr := applyScript.Load(ctx, s.rdb).Err(); lerr != nil {
			return out[:0], fmt.Errorf("%w: load apply script: %w", ErrUnavailable, lerr)
		}
		cmds, err = run()
	}
	if err != nil {
		return out[:0], fmt.Errorf("%w: apply batch of %d: %w", ErrUnavailable, len(batch), err)
	}
	if cap(out) < len(batch) {
		out = append(out[:cap(out)], make([]Result, len(batch)-cap(out))...)
	}
	out = out[:len(batch)]
	for i, c := range cmds {
		reply, err := c.Result()
		if err != nil {
			return out[:0], fmt.Errorf("%w: apply event %s: %w", ErrUnavailable, batch[i].Event.ID, err)
		}
		r := &out[i]
		if r.Outcome, err = decodeApplied(batch[i].Event.CustomerID, reply, &r.Customer); err != nil {
			return out[:0], fmt.Errorf("state: apply event %s: %w", batch[i].Event.ID, err)
		}
	}
	return out, nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// EventIDHash is the 8-byte hash of an event id kept in the id memory.
func EventIDHash(id string) string {
	b := appendEventIDHash(make([]byte, 0, 8), id)
	return string(b)
}

func appendEventIDHash(dst []byte, id string) []byte {
	h := xxhash.Sum64String(id)
	for i := range 8 {
		dst = append(dst, byte(h>>(56-8*i)))
	}
	return dst
}

// WatermarkField is the hash field holding the last applied offset of a
// topic partition.
func WatermarkField(topic string, partition int) string {
	return "o:" + topic + ":" + strconv.Itoa(partition)
}

// sourcePrefix starts the fields that hold the highest applied source_seq
// per source.
const sourcePrefix = "q:"

// SourceField is the hash field holding the highest applied source_seq of
// the events of a source (events.Event.Source).
func SourceField(source string) string {
	return sourcePrefix + source
}

// applyArgsPerEvent bounds the arguments of one EVALSHA: the command, the
// script, the key count, the key and up to twelve script arguments (eight
// for every event, up to two by type, two for a source).
const applyArgsPerEvent = 16

// applyScratch holds the buffers ApplyBatch builds its commands in, reused
// through applyScratchPool.
type applyScratch struct {
	buf   []byte
	ends  []int
	strs  []string
	slots []any
	args  [][]any
	cmds  []*redis.StringCmd
}

var applyScratchPool = sync.Pool{New: func() any { return new(applyScratch) }}

// release clears what points into the batch and returns sc to the pool.
func (sc *applyScratch) release() {
	clear(sc.strs)
	clear(sc.slots)
	clear(sc.args)
	clear(sc.cmds)
	applyScratchPool.Put(sc)
}

// applyArgs builds the EVALSHA commands of a batch in sc. The strings of
// all events (keys, id hashes, numbers) are written into one buffer that
// becomes one string, and the commands point into it: a batch costs one
// allocation for its strings, not a dozen per event.
func (s *Store) applyArgs(sc *applyScratch, batch []Apply) [][]any {
	const (
		strKey = iota
		strWatermark
		strOffset
		strID
		strTime
		strArg9
		strArg10
		strSourceField
		strSourceSeq
		strsPerEvent
	)
	buf := sc.buf[:0]
	ends := sc.ends[:0]
	var lastTopic string
	lastPartition := -1
	var wm []byte
	for i := range batch {
		a := &batch[i]
		e := a.Event
		buf = append(buf, s.cfg.Prefix...)
		buf = append(buf, ":c:{"...)
		buf = append(buf, e.CustomerID...)
		buf = append(buf, '}')
		ends = append(ends, len(buf))
		if a.Topic != lastTopic || a.Partition != lastPartition {
			lastTopic, lastPartition = a.Topic, a.Partition
			wm = append(wm[:0], "o:"...)
			wm = append(wm, a.Topic...)
			wm = append(wm, ':')
			wm = strconv.AppendInt(wm, int64(a.Partition), 10)
		}
		buf = append(buf, wm...)
		ends = append(ends, len(buf))
		buf = strconv.AppendInt(buf, a.Offset, 10)
		ends = append(ends, len(buf))
		buf = appendEventIDHash(buf, e.ID)
		ends = append(ends, len(buf))
		buf = strconv.AppendInt(buf, e.Time.Unix(), 10)
		ends = append(ends, len(buf))
		switch e.Type {
		case events.TypePurchase:
			buf = strconv.AppendInt(buf, e.Purchase.Amount, 10)
			ends = append(ends, len(buf))
			buf = strconv.AppendInt(buf, e.Purchase.Margin, 10)
		case events.TypeComplaint:
			buf = strconv.AppendInt(buf, int64(e.Complaint.Severity), 10)
			ends = append(ends, len(buf))
			buf = append(buf, boolDigit(!e.Complaint.Resolved))
		case events.TypeContact:
			buf = append(buf, boolDigit(a.Response))
			ends = append(ends, len(buf))
		default:
			ends = append(ends, len(buf))
		}
		ends = append(ends, len(buf))
		if e.Source != "" {
			buf = append(buf, sourcePrefix...)
			buf = append(buf, e.Source...)
			ends = append(ends, len(buf))
			buf = strconv.AppendInt(buf, e.SourceSeq, 10)
		} else {
			ends = append(ends, len(buf))
		}
		ends = append(ends, len(buf))
	}
	all := string(buf)
	sc.buf, sc.ends = buf, ends
	strs := grow(sc.strs, len(ends))
	from := 0
	for i, end := range ends {
		strs[i] = all[from:end]
		from = end
	}
	slots := grow(sc.slots, len(batch)*applyArgsPerEvent)
	out := grow(sc.args, len(batch))
	sc.strs, sc.slots, sc.args = strs, slots, out
	for i := range batch {
		e := batch[i].Event
		str := strs[i*strsPerEvent : (i+1)*strsPerEvent]
		a := slots[i*applyArgsPerEvent : i*applyArgsPerEvent : (i+1)*applyArgsPerEvent]
		a = append(a, "evalsha", &applySHA, "1", &str[strKey],
			&str[strWatermark], &str[strOffset], &str[strID], &s.idMemory, "", &str[strTime], &s.bucketDays, &s.windowDays)
		const typ = 8 // index of ARGV[5], the event type
		switch e.Type {
		case events.TypePurchase:
			a[typ] = "p"
			if e.Purchase.Refund {
				a[typ] = "r"
			}
			a = append(a, &str[strArg9], &str[strArg10])
		case events.TypeComplaint:
			a[typ] = "c"
			a = append(a, &str[strArg9], &str[strArg10])
		case events.TypeContact:
			a[typ] = "k"
			a = append(a, &str[strArg9])
		}
		if e.Source != "" {
			a = append(a, &str[strSourceField], &str[strSourceSeq])
		}
		out[i] = a
	}
	return out
}

// grow returns s resized to n, reusing its capacity.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func boolDigit(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}

// Load reads customers' states in one pipelined round trip. A customer
// without state comes back with Found false.
func (s *Store) Load(ctx context.Context, ids []string) ([]Loaded, error) {
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.HGetAll(ctx, s.CustomerKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: load %d customers: %w", ErrUnavailable, len(ids), err)
	}
	out := make([]Loaded, len(ids))
	for i, c := range cmds {
		m, err := c.(*redis.MapStringStringCmd).Result()
		if err != nil {
			return nil, fmt.Errorf("%w: load customer: %w", ErrUnavailable, err)
		}
		out[i].Found = len(m) > 0
		flat := make([]any, 0, 2*len(m))
		for k, v := range m {
			flat = append(flat, k, v)
		}
		if err := decodeCustomer(ids[i], flat, &out[i].Customer); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Loaded is one customer read by Load.
type Loaded struct {
	Found    bool
	Customer scoring.Customer
}

// Record is what the processor writes back after it published a customer's
// transitions: the published values that changed, the new sequence, and
// when the customer is next due for re-evaluation.
type Record struct {
	CustomerID string
	Published  map[string]string // only the changed entries
	// Moves are the segment-population changes the published entries make.
	Moves []Move
	Seq   int64 // 0: unchanged
	// Scores are the scores of the last evaluation, kept for hysteresis.
	Scores        [4]int8
	ScoresChanged bool
	// PrevContrib and Contrib move the customer between population bins
	// when they differ.
	PrevContrib, Contrib scoring.Contrib
	Due                  time.Time // zero: remove from the due index
	// Outbox holds the messages that announce this record's transitions
	// (EncodeMessages); they are kept until ClearOutbox.
	Outbox []byte
}

// Move is a customer leaving segment From (none when empty) for To of a
// segmentation (churn levels under scoring.ChurnKey).
type Move struct {
	Segmentation, From, To string
}

// DueKey is the key of a partition's due index (a sorted set of customer
// ids scored by due time in unix milliseconds).
func (s *Store) DueKey(topic string, partition int) string {
	return s.cfg.Prefix + ":due:{" + topic + ":" + strconv.Itoa(partition) + "}"
}

// RecordBatch writes records in one pipelined round trip: the customers'
// published segments, sequence, scores and population contribution, the
// partition's population histograms and segment counts, and the due index.
// The partition keys live in other hash slots than the customers', so a
// crash in the middle of a batch can leave the population counts off by
// the customers of that batch; the counts only shape quantile scores and
// reports, never a customer's own state.
//
// The partition's keys are written with one command each for the whole
// batch (the outbox first, the histogram and segment counts summed over the
// batch, the due index in one ZADD and one ZREM), the customers' hashes
// with one HSET each. With several records of one customer the last one
// decides its outbox entry and due time.
func (s *Store) RecordBatch(ctx context.Context, topic string, partition int, recs []Record) error {
	return s.RecordAndClear(ctx, topic, partition, nil, recs)
}

// RecordAndClear is ClearOutbox(published) followed by RecordBatch(recs),
// in one round trip: the processor clears the outbox entries of the
// customers whose messages it published after the previous batch with the
// record of the next one. A customer in both has its old entry replaced.
func (s *Store) RecordAndClear(ctx context.Context, topic string, partition int, published []string, recs []Record) error {
	if len(recs) == 0 && len(published) == 0 {
		return nil
	}
	type segment struct{ segmentation, name string }
	var (
		outbox []any
		pop    = map[string]int64{}
		segs   = map[segment]int64{}
		last   = make(map[string]int, len(recs)) // customer -> index of its last record
	)
	for i := range recs {
		last[recs[i].CustomerID] = i
	}
	movePop := func(c scoring.Contrib, d int64) {
		if !c.Active {
			return
		}
		for _, f := range contribFields(c) {
			pop[f] += d
		}
	}
	due := make([]redis.Z, 0, len(recs))
	var gone []any
	for i := range recs {
		r := &recs[i]
		if len(r.Outbox) > 0 && last[r.CustomerID] == i {
			outbox = append(outbox, r.CustomerID, r.Outbox)
		}
		if r.Contrib != r.PrevContrib {
			movePop(r.PrevContrib, -1)
			movePop(r.Contrib, 1)
		}
		for _, m := range r.Moves {
			if m.From != "" {
				segs[segment{m.Segmentation, m.From}]--
			}
			segs[segment{m.Segmentation, m.To}]++
		}
		if last[r.CustomerID] != i {
			continue
		}
		if r.Due.IsZero() {
			gone = append(gone, r.CustomerID)
		} else {
			due = append(due, redis.Z{Score: float64(r.Due.UnixMilli()), Member: r.CustomerID})
		}
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(published) > 0 {
			p.HDel(ctx, s.OutboxKey(topic, partition), published...)
		}
		if len(outbox) > 0 {
			// first: whatever else of the records lands, the messages
			// that announce them are kept
			p.HSet(ctx, s.OutboxKey(topic, partition), outbox...)
		}
		for i := range recs {
			r := &recs[i]
			fields := make([]any, 0, 2*len(r.Published)+6)
			for name, v := range r.Published {
				fields = append(fields, publishedPrefix+name, v)
			}
			if r.ScoresChanged {
				fields = append(fields, fieldScores, encodeScores(r.Scores))
			}
			if r.Contrib != r.PrevContrib {
				fields = append(fields, fieldContrib, r.Contrib.String())
			}
			if r.Seq > 0 {
				fields = append(fields, "seq", r.Seq)
			}
			if len(fields) > 0 {
				p.HSet(ctx, s.CustomerKey(r.CustomerID), fields...)
			}
		}
		popKey := s.PopulationKey(topic, partition)
		for f, d := range pop {
			if d != 0 {
				p.HIncrBy(ctx, popKey, f, d)
			}
		}
		segKey := s.SegmentsKey(topic, partition)
		for sg, d := range segs {
			if d != 0 {
				p.HIncrBy(ctx, segKey, sg.segmentation+":"+sg.name, d)
			}
		}
		dueKey := s.DueKey(topic, partition)
		if len(due) > 0 {
			p.ZAdd(ctx, dueKey, due...)
		}
		if len(gone) > 0 {
			p.ZRem(ctx, dueKey, gone...)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: record batch of %d: %w", ErrUnavailable, len(recs), err)
	}
	return nil
}

// Due returns up to limit customers of a partition whose due time is at or
// before now, earliest first.
func (s *Store) Due(ctx context.Context, topic string, partition int, now time.Time, limit int) ([]string, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key:     s.DueKey(topic, partition),
		Start:   "-inf",
		Stop:    strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true,
		Count:   int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: due customers: %w", ErrUnavailable, err)
	}
	return ids, nil
}

// DueBacklog counts the customers of a partition due at or before now.
func (s *Store) DueBacklog(ctx context.Context, topic string, partition int, now time.Time) (int64, error) {
	n, err := s.rdb.ZCount(ctx, s.DueKey(topic, partition), "-inf", strconv.FormatInt(now.UnixMilli(), 10)).Result()
	if err != nil {
		return 0, fmt.Errorf("%w: due backlog: %w", ErrUnavailable, err)
	}
	return n, nil
}
