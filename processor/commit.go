package processor

import (
	"context"
	"time"
)

// offsetCommitter commits a worker's offsets in the background, so that
// the next fetch does not wait for the commit of the previous batch. It
// holds only the latest offset handed to it: committing that one covers
// the batches before.
type offsetCommitter struct {
	latest chan int64 // capacity 1: the offset waiting to be committed
	done   chan struct{}
}

// startCommitter starts w's committer. Commits are retried until they
// succeed or the generation ends (the partition may belong to another
// member then, which replays from the last commit); close waits for the
// last offset, within dctx.
func (w *worker) startCommitter(gctx, dctx context.Context) *offsetCommitter {
	p := w.p
	c := &offsetCommitter{latest: make(chan int64, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for next := range c.latest {
			_ = p.retry(dctx, "kafka commit", func(context.Context) error {
				start := time.Now()
				err := w.commits.commit(w.topic, w.partition, next)
				p.metrics.KafkaDuration.WithLabelValues("commit").Observe(time.Since(start).Seconds())
				if err == nil {
					w.progress.committedAt(next, time.Now())
				}
				if err != nil {
					p.metrics.KafkaErrors.WithLabelValues("commit").Inc()
					if gctx.Err() != nil {
						return nil
					}
				}
				return err
			})
		}
	}()
	return c
}

// commit hands next over to be committed, replacing an older offset not
// yet taken up.
func (c *offsetCommitter) commit(next int64) {
	for {
		select {
		case c.latest <- next:
			return
		default:
		}
		select {
		case <-c.latest:
		default:
		}
	}
}

// close waits until the last offset handed over is committed (or given up).
func (c *offsetCommitter) close() {
	close(c.latest)
	<-c.done
}
