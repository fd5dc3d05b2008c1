package processor

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// worker processes one assigned partition of one generation.
type worker struct {
	p         *Processor
	topic     string
	partition int
	offset    int64 // next offset to process; negative until resolved
	// fetchOffset is the next offset to fetch, owned by the prefetching
	// goroutine
	fetchOffset int64
	commits     *committer
	dlq         string
	partLabel   string
	fetcher     *kafka.Client // the worker's own connection for fetches
	committer   *offsetCommitter

	lastSweep time.Time

	// partID names the partition in customer states (watermarks)
	partID state.PartitionID
	// hadCommit: the partition had a committed offset when assigned (or
	// is read again after a restart): state for the offsets before it must
	// be in Redis
	hadCommit bool
	// checkpoint is the partition's checkpoint the worker read or wrote
	// last (state.NoCheckpoint: none)
	checkpoint state.Checkpoint
	// cache holds the partition's customer states between batches
	cache *stateCache
	// token names the worker in the checkpoints it writes
	token string
	// progress is the partition's committed offset and high watermark
	progress *progress

	// scratch, reused across batches
	evs        []events.Event
	inputs     []state.Input
	inputMsg   []int          // the message index of each input
	states     []*state.State // working states: states[:usedStates] are the batch's
	usedStates int
	hitIDs     []string // the batch's customers found in the cache, their values and working states
	hitValues  [][]byte
	hitStates  []*state.State
	missIDs    []string // the batch's customers read from Redis, and their working states
	missStates []*state.State
	vals       []byte // the batch's encoded customer values
	out        []kafka.Message
	pending    map[string]*pending
	pool       []*pending // pending views, reused: pool[:used] are in use
	used       int
	order      []string
	times      []time.Time // Kafka timestamps of the messages that caused output
	recs       []state.Record
	boxed      []string
	// published are customers whose outbox entries were published and are
	// cleared with the next record (or when the partition is idle)
	published []string
	// publishing is the publication under way, nil when none: a batch's
	// output is published while the next batch is fetched, applied and
	// scored
	publishing *publication
	// reusable holds the output buffers of the last finished publication,
	// for the next batch
	reusable publication
	// buf holds the batch's output keys and values; messages point into
	// it until they are published
	buf []byte
	res scoring.Result // the evaluation at hand
	// the scores and metrics of the evaluation at hand, listed once for
	// all its transitions
	scores  []events.Score
	metrics []events.Metric
	listed  bool
	// scoreNames caches "score."+profile
	scoreNames map[string]string
	// eventCounters caches events_total by event type and outcome
	eventCounters [4][4]prometheus.Counter
	horizonDays   int // the CLV horizon (Engine.Config copies the whole configuration)
}

func (p *Processor) newWorker(topic string, partition int, offset int64, c *committer) *worker {
	return &worker{
		p:           p,
		topic:       topic,
		partition:   partition,
		offset:      offset,
		hadCommit:   offset >= 0,
		partID:      state.PartitionOf(topic, partition),
		checkpoint:  state.NoCheckpoint,
		token:       strconv.FormatUint(rand.Uint64(), 36),
		commits:     c,
		dlq:         topic + p.cfg.Topics.DeadLetterSuffix,
		partLabel:   strconv.Itoa(partition),
		pending:     map[string]*pending{},
		scoreNames:  map[string]string{},
		horizonDays: p.engine.Config().CLV.HorizonDays,
	}
}

// run is the partition loop: check the partition's state in Redis against
// the offset to start from, republish what a previous owner recorded, then
// consume. It returns when the generation ends, after finishing the batch
// under way, publishing its output and committing it. When a batch's write
// does not land (Redis lost writes, another writer), it starts again with
// an empty cache from the offset the batch asks for.
func (w *worker) run(gctx context.Context) {
	p := w.p
	// Work under way survives the end of the generation for at most
	// ShutdownTimeout, so a shutdown finishes and commits its batch.
	dctx, cancel := context.WithCancel(context.WithoutCancel(gctx))
	defer cancel()
	stop := context.AfterFunc(gctx, func() { time.AfterFunc(p.cfg.ShutdownTimeout, cancel) })
	defer stop()
	defer p.metrics.SweepBacklog.DeleteLabelValues(w.topic, w.partLabel)

	log := p.log.With("topic", w.topic, "partition", w.partition)
	var closeFetcher func()
	w.fetcher, closeFetcher = p.fetchClient()
	defer closeFetcher()
	if err := p.retry(gctx, "resolve offset", w.resolveOffset); err != nil {
		return
	}
	w.progress = p.track(w.topic, w.partition, w.offset)
	defer p.untrack(w.progress)
	w.committer = w.startCommitter(gctx, dctx)
	defer w.committer.close()
	defer w.clearPublished(dctx)
	defer func() {
		// the last batch's publish: its offset is committed once it is published
		if err := w.awaitPublish(); err != nil {
			log.Error("output of the last batch not published at shutdown; the next owner republishes it", "err", err)
		}
	}()
	for {
		w.cache = newStateCache(p.cfg.CacheSize, p.cacheMetrics)
		stopped := false
		if err := p.retry(gctx, "check state", func(ctx context.Context) error {
			var err error
			stopped, err = w.checkState(ctx)
			return err
		}); err != nil {
			w.cache.close()
			return
		}
		if stopped {
			w.cache.close()
			<-gctx.Done()
			p.clearStateLost(w.topic, w.partition)
			return
		}
		if err := p.retry(gctx, "flush outbox", w.flushOutbox); err != nil {
			w.cache.close()
			return
		}
		err := w.consume(gctx, dctx)
		w.cache.close()
		var restart *errRestart
		if !errors.As(err, &restart) {
			if err != nil {
				// Only a shutdown that outlived ShutdownTimeout gets here;
				// nothing past the last commit is lost: the next owner
				// replays it and the watermarks make the replay harmless.
				log.Error("batch abandoned at shutdown", "err", err)
			}
			return
		}
		log.Warn("reading the partition again", "offset", restart.offset, "reason", restart.reason)
		if err := w.awaitPublish(); err != nil {
			return
		}
		w.offset, w.hadCommit = restart.offset, true
	}
}

// consume takes the next fetched batch and processes it, sweeping when
// due. Fetches run one batch ahead while there is a backlog, a batch's
// output is published while the next batch is processed, and commits run
// in the background (startPrefetch, startPublish, startCommitter), so none
// of these round trips delays the next batch. It returns nil when the
// generation ends, an *errRestart when the partition is to be read again,
// and another error when a shutdown outlived ShutdownTimeout.
func (w *worker) consume(gctx, dctx context.Context) error {
	p := w.p
	log := p.log.With("topic", w.topic, "partition", w.partition)
	next, stopFetching := w.startPrefetch(gctx, w.fetch)
	defer stopFetching()
	for gctx.Err() == nil {
		if time.Since(w.lastSweep) >= p.cfg.SweepInterval {
			err := w.sweep(gctx)
			var restart *errRestart
			if errors.As(err, &restart) {
				return err
			}
			if err != nil && gctx.Err() == nil {
				log.Warn("sweep failed; next tick retries", "err", err)
			}
			w.lastSweep = time.Now()
		}
		msgs, ok := next()
		if !ok {
			return nil // the generation ended
		}
		if len(msgs) == 0 {
			// idle: no next write to clear the outbox with
			if err := w.awaitPublish(); err != nil {
				log.Error("output not published; the next owner republishes it", "err", err)
				return nil
			}
			w.clearPublished(gctx)
		}
		for len(msgs) > 0 {
			n := min(len(msgs), p.cfg.BatchSize)
			chunk := msgs[:n]
			msgs = msgs[n:]
			if err := w.process(dctx, chunk); err != nil {
				return err
			}
			w.offset = chunk[n-1].offset + 1
		}
	}
	return nil
}
