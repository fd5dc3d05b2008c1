package processor

import (
	"unsafe"

	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// stateCache holds the states of a partition's customers between batches,
// up to a size, the least recently used going first. It belongs to one
// partition worker (no locking) and lives as long as the worker owns the
// partition: a new owner starts empty and reads Redis, the source of truth.
//
// An entry holds the state as last written to Redis: a batch applies its
// events to the entries, and when its write does not land (a fence, a lost
// checkpoint) the worker drops them (forget) so that they are read again.
type stateCache struct {
	max     int
	entries map[string]*cacheEntry
	// head is the most recently used entry, tail the least; a ring
	// through a sentinel
	ring    cacheEntry
	free    []*cacheEntry // evicted entries, reused with their memory
	bytes   int64
	metrics cacheMetrics
}

type cacheEntry struct {
	state      state.State
	size       int64
	prev, next *cacheEntry
}

// cacheMetrics are the cache's counters, shared by all workers.
type cacheMetrics struct {
	hits, misses, evictions func(float64)
	bytes                   func(float64)
}

func newStateCache(size int, m cacheMetrics) *stateCache {
	c := &stateCache{max: size, entries: make(map[string]*cacheEntry, min(size, 1<<16)), metrics: m}
	c.ring.prev, c.ring.next = &c.ring, &c.ring
	return c
}

// get returns the customer's cached state, or nil.
func (c *stateCache) get(id string) *state.State {
	e := c.entries[id]
	if e == nil {
		c.metrics.misses(1)
		return nil
	}
	c.metrics.hits(1)
	c.unlink(e)
	c.pushFront(e)
	return &e.state
}

// add returns a new entry for id (evicting the least recently used one
// when the cache is full), to be filled by the caller. The state's memory
// comes from an evicted entry when there is one.
func (c *stateCache) add(id string) *state.State {
	if e := c.entries[id]; e != nil {
		return &e.state
	}
	if len(c.entries) >= c.max {
		c.evict()
	}
	var e *cacheEntry
	if n := len(c.free); n > 0 {
		e = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		e = new(cacheEntry)
	}
	e.state.ID = id
	c.entries[id] = e
	c.pushFront(e)
	return &e.state
}

// resize records the customer's state size after a write, for the bytes
// gauge.
func (c *stateCache) resize(id string) {
	e := c.entries[id]
	if e == nil {
		return
	}
	n := stateSize(&e.state)
	c.bytes += n - e.size
	c.metrics.bytes(float64(n - e.size))
	e.size = n
}

// forget drops a customer's entry: its state is read again next time.
func (c *stateCache) forget(id string) {
	e := c.entries[id]
	if e == nil {
		return
	}
	c.drop(e)
}

func (c *stateCache) evict() {
	e := c.ring.prev
	if e == &c.ring {
		return
	}
	c.metrics.evictions(1)
	c.drop(e)
}

func (c *stateCache) drop(e *cacheEntry) {
	c.unlink(e)
	delete(c.entries, e.state.ID)
	c.bytes -= e.size
	c.metrics.bytes(float64(-e.size))
	e.size = 0
	if len(c.free) < 64 {
		c.free = append(c.free, e)
	}
}

// close gives the cache's bytes back to the gauge.
func (c *stateCache) close() {
	c.metrics.bytes(float64(-c.bytes))
	c.bytes = 0
	clear(c.entries)
}

func (c *stateCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *stateCache) pushFront(e *cacheEntry) {
	e.next, e.prev = c.ring.next, &c.ring
	c.ring.next.prev = e
	c.ring.next = e
}

// stateSize estimates the memory a cached state holds: the entry, its
// id, slices and published map.
func stateSize(s *state.State) int64 {
	n := int64(unsafe.Sizeof(cacheEntry{})) + int64(len(s.ID)) + 48 // map entry and key
	n += int64(cap(s.Window)) * int64(unsafe.Sizeof(scoring.Bucket{}))
	n += int64(cap(s.Watermarks)) * 16
	n += int64(cap(s.Recent)) * 16
	n += int64(cap(s.Sources)) * 24
	// a map entry and its two strings' headers; the strings themselves
	// are the segment names every customer shares
	n += int64(len(s.Published)) * 64
	return n
}
