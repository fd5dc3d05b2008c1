package processor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// The worker and its prefetching goroutine hand batches and requests over
// without losing one: a fetch that alternates between a backlog and
// nothing, consumed as fast as it comes (as an idle partition is), must
// never leave both waiting for each other. A lost request once stalled a
// partition for good.
func TestPrefetchNeverStalls(t *testing.T) {
	w := &worker{p: &Processor{cfg: Config{RetryMin: time.Millisecond, RetryMax: time.Millisecond}}}
	var fetches atomic.Int64
	fetch := func(context.Context) ([]inMsg, bool, error) {
		n := fetches.Add(1)
		switch n % 5 {
		case 0, 1:
			// messages, and more behind them: the next fetch runs ahead
			return []inMsg{{offset: n}}, true, nil
		case 2:
			return []inMsg{{offset: n}}, false, nil
		default:
			return nil, false, nil // nothing within FetchMaxWait
		}
	}
	next, stop := w.startPrefetch(context.Background(), fetch)
	const batches = 200_000
	done := make(chan int)
	go func() {
		got := 0
		for range batches {
			if _, ok := next(); !ok {
				break
			}
			got++
		}
		done <- got
	}()
	select {
	case got := <-done:
		if got != batches {
			t.Fatalf("next ended after %d batches of %d", got, batches)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("stalled after %d fetches: the worker and the fetcher wait for each other", fetches.Load())
	}
	stop()
	if _, ok := next(); ok {
		t.Fatal("next yields a batch after stop")
	}
}
