package state

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
)

//go:embed apply.lua
var applySource string

var applyScript = redis.NewScript(applySource)

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
}

// New returns a Store on rdb. It does not talk to Redis.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, cfg: cfg}, nil
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
	Duplicate                 // an event with the same id was already applied
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
func (s *Store) ApplyBatch(ctx context.Context, batch []Apply, out []Result) ([]Result, error) {
	out = out[:0]
	if len(batch) == 0 {
		return out, nil
	}
	run := func() ([]redis.Cmder, error) {
		return s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range batch {
				keys, args := s.applyArgs(&batch[i])
				applyScript.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
	}
	cmds, err := run()
	if err != nil && isNoScript(err) {
		// Redis forgot the script (restart or SCRIPT FLUSH): load it and
		// replay the whole batch, which the watermark makes safe.
		if lerr := applyScript.Load(ctx, s.rdb).Err(); lerr != nil {
			return out, fmt.Errorf("%w: load apply script: %w", ErrUnavailable, lerr)
		}
		cmds, err = run()
	}
	if err != nil {
		return out, fmt.Errorf("%w: apply batch of %d: %w", ErrUnavailable, len(batch), err)
	}
	for i, c := range cmds {
		vals, err := c.(*redis.Cmd).Slice()
		if err != nil {
			return out, fmt.Errorf("%w: apply event %s: %w", ErrUnavailable, batch[i].Event.ID, err)
		}
		if len(vals) != 2 {
			return out, fmt.Errorf("state: apply event %s: unexpected reply of %d values", batch[i].Event.ID, len(vals))
		}
		st, _ := vals[0].(int64)
		var r Result
		r.Outcome = Outcome(st)
		if err := decodeCustomer(batch[i].Event.CustomerID, vals[1], &r.Customer, s.cfg.BucketDays); err != nil {
			return out, fmt.Errorf("state: apply event %s: %w", batch[i].Event.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// EventIDHash is the 8-byte hash of an event id kept in the id memory.
func EventIDHash(id string) string {
	var b [8]byte
	h := xxhash.Sum64String(id)
	for i := range b {
		b[i] = byte(h >> (56 - 8*i))
	}
	return string(b[:])
}

// WatermarkField is the hash field holding the last applied offset of a
// topic partition.
func WatermarkField(topic string, partition int) string {
	return "o:" + topic + ":" + strconv.Itoa(partition)
}

func (s *Store) applyArgs(a *Apply) ([]string, []any) {
	e := a.Event
	args := make([]any, 0, 10)
	args = append(args,
		WatermarkField(a.Topic, a.Partition),
		a.Offset,
		EventIDHash(e.ID),
		s.cfg.IDMemory,
		"",
		e.Time.Unix(),
		s.cfg.BucketDays,
		s.cfg.WindowDays,
	)
	switch e.Type {
	case events.TypePurchase:
		args[4] = "p"
		if e.Purchase.Refund {
			args[4] = "r"
		}
		args = append(args, e.Purchase.Amount, e.Purchase.Margin)
	case events.TypeComplaint:
		args[4] = "c"
		opened := 1
		if e.Complaint.Resolved {
			opened = 0
		}
		args = append(args, int(e.Complaint.Severity), opened)
	case events.TypeContact:
		args[4] = "k"
		resp := 0
		if a.Response {
			resp = 1
		}
		args = append(args, resp)
	}
	return []string{s.CustomerKey(e.CustomerID)}, args
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
		if err := decodeCustomer(ids[i], flat, &out[i].Customer, s.cfg.BucketDays); err != nil {
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
func (s *Store) RecordBatch(ctx context.Context, topic string, partition int, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	dueKey := s.DueKey(topic, partition)
	popKey := s.PopulationKey(topic, partition)
	segKey := s.SegmentsKey(topic, partition)
	obKey := s.OutboxKey(topic, partition)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range recs {
			r := &recs[i]
			key := s.CustomerKey(r.CustomerID)
			if len(r.Outbox) > 0 {
				// first: whatever else of the record lands, the messages
				// that announce it are kept
				p.HSet(ctx, obKey, r.CustomerID, r.Outbox)
			}
			fields := make([]any, 0, 2*len(r.Published)+6)
			for name, v := range r.Published {
				fields = append(fields, publishedPrefix+name, v)
			}
			if r.ScoresChanged {
				fields = append(fields, fieldScores, encodeScores(r.Scores))
			}
			if r.Contrib != r.PrevContrib {
				fields = append(fields, fieldContrib, r.Contrib.String())
				if r.PrevContrib.Active {
					for _, f := range contribFields(r.PrevContrib) {
						p.HIncrBy(ctx, popKey, f, -1)
					}
				}
				if r.Contrib.Active {
					for _, f := range contribFields(r.Contrib) {
						p.HIncrBy(ctx, popKey, f, 1)
					}
				}
			}
			for _, m := range r.Moves {
				if m.From != "" {
					p.HIncrBy(ctx, segKey, m.Segmentation+":"+m.From, -1)
				}
				p.HIncrBy(ctx, segKey, m.Segmentation+":"+m.To, 1)
			}
			if r.Seq > 0 {
				fields = append(fields, "seq", r.Seq)
			}
			if len(fields) > 0 {
				p.HSet(ctx, key, fields...)
			}
			if r.Due.IsZero() {
				p.ZRem(ctx, dueKey, r.CustomerID)
			} else {
				p.ZAdd(ctx, dueKey, redis.Z{Score: float64(r.Due.UnixMilli()), Member: r.CustomerID})
			}
		}
		return nil
	})
	if err != nil {
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
