package state

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// NamesKey is the key of the name dictionary: a hash from a name
// (segmentation, segment, churn-risk level, source) to its number, which
// customer values hold instead of the name. Field "#" holds the last number
// given. Numbers are given once and never change or go away, so every
// instance decodes every value the same way.
func (s *Store) NamesKey() string { return s.cfg.Prefix + ":names" }

// nameScript gives each name in ARGV a number unless it has one, and
// returns the numbers in ARGV order.
var nameScript = redis.NewScript(`
local out = {}
for i, n in ipairs(ARGV) do
  local id = redis.call('HGET', KEYS[1], n)
  if not id then
    id = redis.call('HINCRBY', KEYS[1], '#', 1)
    redis.call('HSET', KEYS[1], n, id)
  end
  out[i] = tonumber(id)
end
return out
`)

// names is the store's copy of the name dictionary. Encoding looks names
// up for every customer written, so readers take an immutable snapshot
// without locking; the rare additions copy it.
type names struct {
	mu     sync.Mutex // serializes additions
	snap   atomic.Pointer[nameMaps]
	loaded atomic.Bool
}

type nameMaps struct {
	ids  map[string]uint64
	byID map[uint64]string
}

func (n *names) ID(name string) (uint64, bool) {
	m := n.snap.Load()
	if m == nil {
		return 0, false
	}
	id, ok := m.ids[name]
	return id, ok
}

func (n *names) Name(id uint64) (string, bool) {
	m := n.snap.Load()
	if m == nil {
		return "", false
	}
	name, ok := m.byID[id]
	return name, ok
}

// add adds names (name -> id) to a new snapshot.
func (n *names) add(add map[string]uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	next := &nameMaps{ids: map[string]uint64{}, byID: map[uint64]string{}}
	if m := n.snap.Load(); m != nil {
		for k, v := range m.ids {
			next.ids[k], next.byID[v] = v, k
		}
	}
	for k, v := range add {
		next.ids[k], next.byID[v] = v, k
	}
	n.snap.Store(next)
}

// all returns the names and their ids.
func (n *names) all() map[string]uint64 {
	if m := n.snap.Load(); m != nil {
		return m.ids
	}
	return nil
}

// reloadNames reads the whole dictionary (after another instance added a
// name this one does not know yet).
func (s *Store) reloadNames(ctx context.Context) error {
	all, err := s.rdb.HGetAll(ctx, s.NamesKey()).Result()
	if err != nil {
		return fmt.Errorf("%w: read names: %w", ErrUnavailable, err)
	}
	add := make(map[string]uint64, len(all))
	for name, v := range all {
		if name == "#" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("state: %s: name %q: number %q: %w", s.NamesKey(), name, v, err)
		}
		add[name] = id
	}
	s.names.add(add)
	s.names.loaded.Store(true)
	return nil
}

// ensureNames gives a number to every name of the states that has none
// yet: one round trip when a batch brings new names (a new segment, a new
// source), none otherwise.
func (s *Store) ensureNames(ctx context.Context, states []*State) error {
	var missing []any
	seen := map[string]bool{}
	for _, st := range states {
		st.names(func(name string) {
			if _, ok := s.names.ID(name); !ok && !seen[name] {
				seen[name] = true
				missing = append(missing, name)
			}
		})
	}
	if len(missing) == 0 {
		return nil
	}
	ids, err := nameScript.Run(ctx, s.rdb, []string{s.NamesKey()}, missing...).Int64Slice()
	if err != nil {
		return fmt.Errorf("%w: number %d new names: %w", ErrUnavailable, len(missing), err)
	}
	add := make(map[string]uint64, len(ids))
	for i, id := range ids {
		add[missing[i].(string)] = uint64(id)
	}
	s.names.add(add)
	return nil
}

// restoreNamesScript writes back name numbers (ARGV: name, number, ...)
// that the dictionary lost, unless the name has a number or the number
// another name, and keeps the last number given ("#") at or above them.
// It returns the names it could not restore, each with the name holding
// its number.
var restoreNamesScript = redis.NewScript(`
local used = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '#' then used[all[i + 1]] = all[i] end
end
local top = tonumber(redis.call('HGET', KEYS[1], '#') or '0')
local clash = {}
for i = 1, #ARGV, 2 do
  local name, id = ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], name)
  if not cur then
    if used[id] then
      clash[#clash + 1] = name
      clash[#clash + 1] = used[id]
    else
      redis.call('HSET', KEYS[1], name, id)
      used[id] = name
      top = math.max(top, tonumber(id))
    end
  elseif cur ~= id then
    clash[#clash + 1] = name
    clash[#clash + 1] = cur
  end
end
redis.call('HSET', KEYS[1], '#', top)
return clash
`)

// RestoreNames writes the numbers this instance knows back into the name
// dictionary, after Redis lost it: values this or another instance keeps
// in memory (and writes again) keep their meaning. A name whose number
// was meanwhile given to another name is an error: the values holding it
// can no longer be read.
func (s *Store) RestoreNames(ctx context.Context) error {
	known := s.names.all()
	args := make([]any, 0, 2*len(known))
	for name, id := range known {
		args = append(args, name, strconv.FormatUint(id, 10))
	}
	if len(args) == 0 {
		return nil
	}
	clash, err := restoreNamesScript.Run(ctx, s.rdb, []string{s.NamesKey()}, args...).StringSlice()
	if err != nil {
		return fmt.Errorf("%w: restore names: %w", ErrUnavailable, err)
	}
	if len(clash) > 0 {
		return fmt.Errorf("state: %s: names %q hold numbers other instances gave to other names; values written with them cannot be read", s.NamesKey(), clash)
	}
	return s.reloadNames(ctx)
}
