package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/scoring"
)

// ModelKey holds the fitted churn/value model (JSON of scoring.Model).
func (s *Store) ModelKey() string { return s.cfg.Prefix + ":model" }

// LeaseKey is the key of a named lease (one holder at a time).
func (s *Store) LeaseKey(name string) string { return s.cfg.Prefix + ":lease:" + name }

// SaveModel stores m as the current model; every instance picks it up on
// its next population refresh.
func (s *Store) SaveModel(ctx context.Context, m *scoring.Model) error {
	return s.saveJSON(ctx, s.ModelKey(), m)
}

// LoadModel returns the current model, or nil when none was fitted yet.
func (s *Store) LoadModel(ctx context.Context) (*scoring.Model, error) {
	var m scoring.Model
	if ok, err := s.loadJSON(ctx, s.ModelKey(), &m); !ok || err != nil {
		return nil, err
	}
	return &m, nil
}

// KPIsKey holds the last computed KPIs (JSON).
func (s *Store) KPIsKey() string { return s.cfg.Prefix + ":kpis" }

// SaveKPIs stores the KPIs every instance reports.
func (s *Store) SaveKPIs(ctx context.Context, v any) error { return s.saveJSON(ctx, s.KPIsKey(), v) }

// LoadKPIs reads the stored KPIs into v; false when none are stored.
func (s *Store) LoadKPIs(ctx context.Context, v any) (bool, error) {
	return s.loadJSON(ctx, s.KPIsKey(), v)
}

func (s *Store) saveJSON(ctx context.Context, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state: encode %s: %w", key, err)
	}
	if err := s.rdb.Set(ctx, key, raw, 0).Err(); err != nil {
		return fmt.Errorf("%w: save %s: %w", ErrUnavailable, key, err)
	}
	return nil
}

func (s *Store) loadJSON(ctx context.Context, key string, v any) (bool, error) {
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: load %s: %w", ErrUnavailable, key, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("state: decode %s: %w", key, err)
	}
	return true, nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// AcquireLease takes the lease name for holder for ttl, if nobody holds it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.LeaseKey(name), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("%w: acquire lease %s: %w", ErrUnavailable, name, err)
	}
	return ok, nil
}

// ReleaseLease gives the lease back if holder still holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.LeaseKey(name)}, holder).Err(); err != nil {
		return fmt.Errorf("%w: release lease %s: %w", ErrUnavailable, name, err)
	}
	return nil
}

// EachCustomer calls fn with every customer in the store, read in pipelined
// pages of SCAN (on every master of a cluster). The customer passed to fn
// is reused: copy what you keep.
func (s *Store) EachCustomer(ctx context.Context, fn func(*scoring.Customer) error) error {
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		var cursor uint64
		match := s.cfg.Prefix + ":c:{*"
		for {
			keys, next, err := c.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return fmt.Errorf("%w: scan customers: %w", ErrUnavailable, err)
			}
			if err := s.loadKeys(ctx, c, keys, fn); err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		// ForEachMaster runs the masters concurrently: fn sees one
		// customer at a time all the same
		var mu sync.Mutex
		serial := fn
		fn = func(c *scoring.Customer) error {
			mu.Lock()
			defer mu.Unlock()
			return serial(c)
		}
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, s.rdb)
}

func (s *Store) loadKeys(ctx context.Context, c redis.UniversalClient, keys []string, fn func(*scoring.Customer) error) error {
	if len(keys) == 0 {
		return nil
	}
	prefix := s.cfg.Prefix + ":c:{"
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if len(k) > len(prefix) {
			ids = append(ids, k[len(prefix):len(k)-1])
		}
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Get(ctx, s.CustomerKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
		return fmt.Errorf("%w: read customers: %w", ErrUnavailable, err)
	}
	states := make([]State, len(ids))
	ptrs := make([]*State, len(ids))
	var legacy []int
	for i, cmd := range cmds {
		ptrs[i] = &states[i]
		v, err := cmd.(*redis.StringCmd).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			ptrs[i] = nil // gone since the scan
		case isWrongType(err):
			legacy = append(legacy, i)
		case err != nil:
			return fmt.Errorf("%w: read customer: %w", ErrUnavailable, err)
		default:
			if err := s.decode(ctx, ids[i], v, &states[i]); err != nil {
				return err
			}
		}
	}
	if err := s.loadLegacy(ctx, c, ids, legacy, ptrs); err != nil {
		return err
	}
	for _, st := range ptrs {
		if st == nil {
			continue
		}
		if err := fn(&st.Customer); err != nil {
			return err
		}
	}
	return nil
}
