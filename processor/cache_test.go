package processor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The cache keeps at most its size of customers, drops the least recently
// used first, returns copies of what was put, and counts hits, misses,
// evictions and bytes.
func TestStateCache(t *testing.T) {
	var hits, misses, evictions, bytes float64
	c := newStateCache(2, cacheMetrics{
		hits:      func(v float64) { hits += v },
		misses:    func(v float64) { misses += v },
		evictions: func(v float64) { evictions += v },
		bytes:     func(v float64) { bytes += v },
	})
	v := []byte("value of a")
	c.put("a", v)
	v[0] = 'X' // the cache holds its own copy
	c.put("b", []byte("value of b"))
	require.Equal(t, "value of a", string(c.get("a"))) // a is now the most recent
	c.put("c", []byte("value of c"))                   // evicts b
	require.Nil(t, c.get("b"))
	require.Equal(t, "value of c", string(c.get("c")))
	require.Equal(t, "value of a", string(c.get("a")))
	require.Equal(t, 3.0, hits)
	require.Equal(t, 1.0, misses)
	require.Equal(t, 1.0, evictions)
	require.Len(t, c.entries, 2)
	require.Equal(t, float64(c.bytes), bytes)
	require.Equal(t, 2*(entryOverhead+1+int64(cap(c.get("a")))), c.bytes)

	c.put("a", []byte("a longer value of a")) // replaced, not added
	require.Len(t, c.entries, 2)
	c.forget("a")
	require.Nil(t, c.get("a"))
	c.close()
	require.Zero(t, bytes)
}
