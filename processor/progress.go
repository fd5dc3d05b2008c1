package processor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// progress is what the processor knows of one assigned partition's
// progress: the partition's high watermark (from the worker's fetches and
// from watermarkLoop), the offset committed last, and when the committed
// offset last moved. The lag is the high watermark minus the committed
// offset, so it grows while the worker is stuck, whatever it fetched ahead.
type progress struct {
	topic     string
	partition int
	label     string

	high      atomic.Int64 // latest known high watermark
	committed atomic.Int64 // offset committed last (the assignment's, at first)
	moved     atomic.Int64 // unix nanoseconds of the last commit (or of the assignment)
}

func (pr *progress) key() string { return pr.topic + "/" + pr.label }

// lag returns the messages between the committed offset and the high
// watermark.
func (pr *progress) lag() int64 {
	return max(pr.high.Load()-pr.committed.Load(), 0)
}

// stalled returns for how long the partition has had a backlog and no
// commit (zero without a backlog).
func (pr *progress) stalled(now time.Time) time.Duration {
	if pr.lag() == 0 {
		return 0
	}
	return max(now.Sub(time.Unix(0, pr.moved.Load())), 0)
}

// track registers a worker's partition, from its starting offset.
func (p *Processor) track(topic string, partition int, start int64) *progress {
	pr := &progress{topic: topic, partition: partition, label: strconv.Itoa(partition)}
	pr.committed.Store(start)
	pr.high.Store(start)
	pr.moved.Store(time.Now().UnixNano())
	p.progressMu.Lock()
	defer p.progressMu.Unlock()
	if p.progress == nil {
		p.progress = map[string]*progress{}
	}
	p.progress[pr.key()] = pr
	return pr
}

// untrack forgets a partition whose worker ended.
func (p *Processor) untrack(pr *progress) {
	p.progressMu.Lock()
	defer p.progressMu.Unlock()
	if p.progress[pr.key()] == pr {
		delete(p.progress, pr.key())
		p.metrics.Lag.DeleteLabelValues(pr.topic, pr.label)
		p.metrics.Stalled.DeleteLabelValues(pr.topic, pr.label)
	}
}

// tracked returns the partitions being processed.
func (p *Processor) tracked() []*progress {
	p.progressMu.Lock()
	defer p.progressMu.Unlock()
	out := make([]*progress, 0, len(p.progress))
	for _, pr := range p.progress {
		out = append(out, pr)
	}
	return out
}

// committedAt records a commit of the partition.
func (pr *progress) committedAt(next int64, at time.Time) {
	pr.committed.Store(next)
	pr.moved.Store(at.UnixNano())
}

// observeHigh records a high watermark the worker saw.
func (pr *progress) observeHigh(high int64) {
	for {
		cur := pr.high.Load()
		if high <= cur || pr.high.CompareAndSwap(cur, high) {
			return
		}
	}
}

// publishProgress sets the lag and stall gauges of every partition being
// processed.
func (p *Processor) publishProgress(now time.Time) {
	for _, pr := range p.tracked() {
		p.metrics.Lag.WithLabelValues(pr.topic, pr.label).Set(float64(pr.lag()))
		p.metrics.Stalled.WithLabelValues(pr.topic, pr.label).Set(pr.stalled(now).Seconds())
	}
}

// stalledPartitions says which partitions have had a backlog and no commit
// for StallTimeout or longer ("" when none).
func (p *Processor) stalledPartitions(now time.Time) string {
	var out []string
	for _, pr := range p.tracked() {
		if d := pr.stalled(now); d >= p.cfg.StallTimeout {
			out = append(out, fmt.Sprintf("%s (%d messages behind, no progress for %s)", pr.key(), pr.lag(), d.Round(time.Second)))
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return "partitions stalled: " + strings.Join(out, "; ")
}

// watermarkLoop reads the high watermarks of the partitions being
// processed every interval (a fetch stuck behind a stalled batch does not
// learn them) and publishes the lag and stall gauges, until ctx ends.
func (p *Processor) watermarkLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var once sync.Once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.readWatermarks(ctx); err != nil && ctx.Err() == nil {
			once.Do(func() { p.log.Warn("reading high watermarks failed; the lag gauge may be behind", "err", err) })
			p.metrics.KafkaErrors.WithLabelValues("list_offsets").Inc()
		}
		p.publishProgress(time.Now())
	}
}

// readWatermarks lists the last offsets of the partitions being processed.
func (p *Processor) readWatermarks(ctx context.Context) error {
	prs := p.tracked()
	if len(prs) == 0 {
		return nil
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	byKey := make(map[string]*progress, len(prs))
	for _, pr := range prs {
		req.Topics[pr.topic] = append(req.Topics[pr.topic], kafka.OffsetRequest{Partition: pr.partition, Timestamp: kafka.LastOffset})
		byKey[pr.key()] = pr
	}
	res, err := p.client.ListOffsets(ctx, req)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	for topic, parts := range res.Topics {
		for _, po := range parts {
			if po.Error != nil {
				continue
			}
			if pr := byKey[topic+"/"+strconv.Itoa(po.Partition)]; pr != nil {
				pr.observeHigh(po.LastOffset)
			}
		}
	}
	return nil
}
