package processor

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// checkState compares the partition's checkpoint in Redis with the offset
// the worker is to start from (w.offset) before anything is processed:
//
//   - no committed offset, or a checkpoint at or above it: the state holds
//     everything before w.offset; start there (a replay is harmless).
//   - no checkpoint, a committed offset, and the partition's other keys in
//     Redis: state written by release 1, which kept no checkpoint; start at
//     the committed offset, the first write stores a checkpoint.
//   - a checkpoint below the committed offset (or none, and no other key
//     of the partition): Redis lost writes. The worker rewinds to the
//     checkpoint (the beginning when there is none) and replays; the
//     watermarks make the replay exact. When the input topic no longer
//     holds those offsets, the partition stops, /readyz names it and
//     clienting_state_lost_partitions is 1, unless AcceptStateLoss.
//
// It reports whether the partition is stopped.
func (w *worker) checkState(ctx context.Context) (stopped bool, err error) {
	p := w.p
	log := p.log.With("topic", w.topic, "partition", w.partition)
	ck, err := p.store.ReadCheckpoint(ctx, w.topic, w.partition)
	if err != nil {
		return false, err
	}
	w.checkpoint = ck
	if !w.hadCommit || ck.Offset >= w.offset {
		return false, nil
	}
	if ck.Version == "" {
		legacy, err := p.store.HasPartitionKeys(ctx, w.topic, w.partition)
		if err != nil {
			return false, err
		}
		if legacy {
			log.Info("no checkpoint in Redis: state of a release without checkpoints; starting at the committed offset", "offset", w.offset)
			return false, nil
		}
	}
	// Redis lost writes: the name dictionary may be gone too
	if err := p.store.RestoreNames(ctx); err != nil {
		return false, err
	}
	target := max(ck.Offset, 0)
	first := kafka.FirstOffset
	if err := w.resolve(ctx, &first); err != nil {
		return false, err
	}
	if target >= first {
		log.Warn("Redis lost writes: its checkpoint is below the committed offset; replaying from the checkpoint",
			"checkpoint", ck.Offset, "committed", w.offset, "from", target)
		p.metrics.StateRewinds.Inc()
		w.offset = target
		return false, nil
	}
	reason := fmt.Sprintf("Redis lost the state of offsets %d..%d (checkpoint %d) and the input topic starts at %d now", target, w.offset-1, ck.Offset, first)
	if p.cfg.AcceptStateLoss {
		log.Error("state lost; going on from the committed offset (processor.accept_state_loss)", "reason", reason)
		p.metrics.StateRewinds.Inc()
		return false, nil
	}
	log.Error("state lost; partition stopped (set processor.accept_state_loss to go on without it)", "reason", reason)
	p.setStateLost(w.topic, w.partition, reason)
	return true, nil
}

// setStateLost marks a partition stopped for lost state: not ready, with
// the reason in /readyz.
func (p *Processor) setStateLost(topic string, partition int, reason string) {
	p.lostMu.Lock()
	defer p.lostMu.Unlock()
	if p.lost == nil {
		p.lost = map[string]string{}
	}
	p.lost[topic+"/"+strconv.Itoa(partition)] = reason
	p.metrics.StateLost.WithLabelValues(topic, strconv.Itoa(partition)).Set(1)
}

// clearStateLost forgets a stopped partition when its worker ends (the
// next owner checks again).
func (p *Processor) clearStateLost(topic string, partition int) {
	p.lostMu.Lock()
	defer p.lostMu.Unlock()
	delete(p.lost, topic+"/"+strconv.Itoa(partition))
	p.metrics.StateLost.DeleteLabelValues(topic, strconv.Itoa(partition))
}

// NotReady returns why the processor is not ready ("" when it is): no
// partition assigned yet, partitions stopped for lost state, or partitions
// with a backlog and no commit for StallTimeout.
func (p *Processor) NotReady() string {
	p.lostMu.Lock()
	var lost []string
	for part, reason := range p.lost {
		lost = append(lost, part+": "+reason)
	}
	p.lostMu.Unlock()
	if len(lost) > 0 {
		sort.Strings(lost)
		return "state lost, partitions stopped: " + strings.Join(lost, "; ")
	}
	if p.assigned.Load() == 0 {
		return "kafka: no partitions assigned yet"
	}
	return p.stalledPartitions(time.Now())
}
