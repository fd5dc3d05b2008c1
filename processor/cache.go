package processor

import (
	"unsafe"
)

// stateCache holds the customer states of a partition between batches, as
// the values stored in Redis (state.AppendValue: about 130 bytes for a
// customer with a year of history), up to a number of customers, the least
// recently used going first. A batch decodes the values it finds into its
// working states, which costs about a microsecond a customer and keeps the
// cache at a few hundred bytes a customer, a quarter of what decoded states
// take. It belongs to one partition worker (no locking) and lives as long
// as the worker owns the partition: a new owner starts empty and reads
// Redis, the source of truth.
//
// An entry holds the value as last written to Redis; a batch whose write
// does not land drops its customers' entries (forget).
type stateCache struct {
	max     int
	entries map[string]*cacheEntry
	// ring.next is the most recently used entry, ring.prev the least
	ring    cacheEntry
	free    []*cacheEntry // evicted entries, reused with their buffers
	bytes   int64
	metrics cacheMetrics
}

type cacheEntry struct {
	id         string
	value      []byte
	size       int64
	prev, next *cacheEntry
}

// cacheMetrics are the cache's counters, shared by all workers.
type cacheMetrics struct {
	hits, misses, evictions func(float64)
	bytes                   func(float64)
}

// entryOverhead estimates what an entry costs besides its id and value:
// the entry, its map slot and the slice header.
const entryOverhead = int64(unsafe.Sizeof(cacheEntry{})) + 48

func newStateCache(size int, m cacheMetrics) *stateCache {
	c := &stateCache{max: size, entries: make(map[string]*cacheEntry, min(size, 1<<16)), metrics: m}
	c.ring.prev, c.ring.next = &c.ring, &c.ring
	return c
}

// get returns the customer's cached value (valid until the next put), or
// nil.
func (c *stateCache) get(id string) []byte {
	e := c.entries[id]
	if e == nil {
		c.metrics.misses(1)
		return nil
	}
	c.metrics.hits(1)
	c.unlink(e)
	c.pushFront(e)
	return e.value
}

// put stores a copy of the customer's value, evicting the least recently
// used customer when the cache is full.
func (c *stateCache) put(id string, value []byte) {
	e := c.entries[id]
	if e == nil {
		if len(c.entries) >= c.max {
			c.evict()
		}
		if n := len(c.free); n > 0 {
			e = c.free[n-1]
			c.free = c.free[:n-1]
		} else {
			e = new(cacheEntry)
		}
		e.id = id
		c.entries[id] = e
	} else {
		c.unlink(e)
	}
	c.pushFront(e)
	e.value = append(e.value[:0], value...)
	size := entryOverhead + int64(len(id)) + int64(cap(e.value))
	c.bytes += size - e.size
	c.metrics.bytes(float64(size - e.size))
	e.size = size
}

// forget drops a customer's entry: its state is read again next time.
func (c *stateCache) forget(id string) {
	if e := c.entries[id]; e != nil {
		c.drop(e)
	}
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
	delete(c.entries, e.id)
	c.bytes -= e.size
	c.metrics.bytes(float64(-e.size))
	e.size, e.id = 0, ""
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
