package state

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed write.lua
var writeSource string

var writeScript = redis.NewScript(writeSource)

// ErrUnavailable wraps every error of a call to Redis: the caller retries
// with backoff and does not commit past the batch.
var ErrUnavailable = errors.New("state: redis unavailable")

// Config configures a Store.
type Config struct {
	// Prefix starts every key. Default: "clt".
	Prefix string `yaml:"prefix"`
	// DedupeWindow is how long, in event time before a customer's latest
	// event, an applied event id is remembered: a producer duplicate within
	// it is dropped however many events came in between. Default: 168h.
	DedupeWindow time.Duration `yaml:"-"`
	// DedupeMaxIDs bounds the remembered ids per customer (9 to 12 bytes
	// each); past it the oldest are forgotten early, counted in
	// clienting_dedupe_forgotten_total. Default: 64.
	DedupeMaxIDs int `yaml:"-"`
	// BucketDays is the width of a rolling-window bucket. Default: 7.
	BucketDays int `yaml:"-"`
	// WindowDays is the rolling window. Default: 365.
	WindowDays int `yaml:"-"`
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = "clt"
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = 7 * 24 * time.Hour
	}
	if c.DedupeMaxIDs == 0 {
		c.DedupeMaxIDs = 64
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
	if c.DedupeWindow < time.Second {
		return fmt.Errorf("state: dedupe.window: %s must be at least 1s", c.DedupeWindow)
	}
	if c.DedupeMaxIDs < 1 || c.DedupeMaxIDs > 100000 {
		return fmt.Errorf("state: dedupe.max_ids: %d must be in 1..100000", c.DedupeMaxIDs)
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
	rdb     redis.UniversalClient
	cfg     Config
	rules   Rules
	cluster bool
	names   names
	writes  atomic.Uint64 // numbers the checkpoint versions of this store's writes
}

// New returns a Store on rdb. It does not talk to Redis.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &Store{rdb: rdb, cfg: cfg, cluster: cluster, rules: Rules{
		BucketDays: int64(cfg.BucketDays), WindowDays: int64(cfg.WindowDays),
		DedupeWindow: cfg.DedupeWindow, MaxRecent: cfg.DedupeMaxIDs,
	}}, nil
}

// Config returns the store's configuration with defaults applied.
func (s *Store) Config() Config { return s.cfg }

// Rules returns the rules Apply is to use with this store's configuration.
func (s *Store) Rules() *Rules { return &s.rules }

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

// DueKey is the key of a partition's due index (a sorted set of customer
// ids scored by due time in unix milliseconds).
func (s *Store) DueKey(topic string, partition int) string {
	return s.cfg.Prefix + ":due:{" + topic + ":" + strconv.Itoa(partition) + "}"
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
