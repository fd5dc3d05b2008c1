// Command clienting-bench measures clienting against real Redis and Kafka
// servers and prints one table: the ceilings of the servers, the end-to-end
// throughput of the clienting binary, its latency at half that throughput,
// Redis memory per customer, the CPU of clienting, Redis and the broker,
// clienting's peak RSS, and the Go micro-benchmarks of the hot path, each
// with its target (those of the State v2 issue). With --baseline REV it
// also runs the clienting binary of another git revision end to end on the
// same events and prints both side by side.
//
// It is what `make bench` runs (scripts/bench.sh starts and stops the
// servers). The phases, in order:
//
//  1. Build the clienting binary of the working tree (go build into a
//     temporary directory) and, with --baseline REV, that of REV (git
//     worktree add --detach in the temporary directory, go build there,
//     the worktree removed afterwards).
//  2. Generate --events events of --customers customers with the simulated
//     shop (internal/shop), shifted so that the last one happened an hour
//     ago, and produce them to a fresh input topic before any clock starts.
//  3. Kafka ceiling: read the input topic with no processing, one
//     Client.Fetch loop per partition with the processor's fetch settings.
//  4. State ceiling: apply the same events as the processor's state layer
//     does, without scoring: in Go (state.Apply) on states kept in memory,
//     then each changed customer written once per batch of the processor's
//     batch size with the partition's checkpoint (state.Store.Write), one
//     goroutine per partition, under a prefix of its own; and
//     redis-benchmark's raw SET rate.
//  5. With --baseline: the baseline's end-to-end run (below) under its own
//     consumer group, output topics and Redis prefix; its Redis keys are
//     deleted before the next run starts. The baseline always runs first.
//  6. End to end: run `clienting run` as a subprocess on the input topic
//     with a fresh consumer group and Redis prefix, from its /readyz (the
//     group joined and partitions assigned) to its committed offsets
//     reaching the end of every partition; CPU of clienting, Redis (INFO
//     cpu) and the broker (--kafka-pid) over that span. The model refit is
//     off (model.refit=false) so that a run is repeatable: the refit at
//     start would race with the first batches and fit a model or not.
//     Without --with-model the run scores with the recency heuristic, as a
//     fresh deployment does; with it, with a model fitted before the clock.
//  7. Redis memory per customer: the INFO used_memory delta of the
//     end-to-end run divided by the customers (the target figure), and
//     MEMORY USAGE of sampled customer keys.
//  8. Latency: publish events at half the measured end-to-end rate, a tenth
//     of them new customers' first purchases (which surely publish segment
//     changes), the others existing customers' purchases and contacts, a mix
//     about as costly per event as the end-to-end stream; latency is the
//     Kafka timestamp of each new customer's first segment change (set by
//     clienting's producer) minus that of its input event (set by this
//     program): both clocks are this machine's.
//  9. Go micro-benchmarks (go test -bench) of the hot path: decode, apply,
//     the state value codec, scoring, encode, and the processor's work per
//     event.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "clienting-bench:", err)
		}
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	events           int
	customers        int
	partitions       int
	outputPartitions int
	batchSize        int
	latencyDuration  time.Duration
	latencyWarmup    time.Duration
	skipMicro        bool
	brokers          []string
	redis            string
	profileDir       string
	keep             bool
	seed             uint64
	withModel        bool
	latencyDump      string
	sets             []string
	newShare         float64
	latencyRate      float64
	kafkaPID         int
	baseline         string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("clienting-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.events, "events", 1_000_000, "events to pre-produce and process end to end")
	fs.IntVar(&o.customers, "customers", 100_000, "customers of the simulated shop")
	fs.IntVar(&o.partitions, "partitions", 4, "partitions of the input topic (and concurrency of the ceilings); 4, two per core here")
	fs.IntVar(&o.outputPartitions, "output-partitions", 0, "partitions of the output topics (default: --partitions)")
	fs.IntVar(&o.batchSize, "batch-size", 1000, "processor.batch_size of the run(s), and the batch size of the state ceiling")
	fs.DurationVar(&o.latencyDuration, "latency-duration", 30*time.Second, "how long the latency phase measures")
	fs.DurationVar(&o.latencyWarmup, "latency-warmup", 10*time.Second, "how long the latency phase publishes at its rate before it measures (the servers settle after the end-to-end run)")
	fs.BoolVar(&o.skipMicro, "skip-micro", false, "skip the Go micro-benchmarks")
	brokers := fs.String("brokers", os.Getenv("CLIENTING_TEST_KAFKA_BROKERS"), "Kafka bootstrap `addresses`, comma separated (default: $CLIENTING_TEST_KAFKA_BROKERS)")
	fs.StringVar(&o.redis, "redis", os.Getenv("CLIENTING_TEST_REDIS_ADDR"), "Redis `address` (default: $CLIENTING_TEST_REDIS_ADDR)")
	fs.StringVar(&o.profileDir, "profile-dir", "", "when set, save CPU and allocation profiles of this tree's end-to-end run, a CPU profile and an execution trace of the latency phase, and clienting's log in this `directory`")
	fs.BoolVar(&o.keep, "keep", false, "keep the topics and Redis keys of the run")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulated shop")
	fs.Float64Var(&o.newShare, "latency-new-share", 0.1, "share of the latency phase's events that are new customers' first purchases (the measured ones); "+
		"the others are events of existing customers (1: new customers only)")
	fs.Float64Var(&o.latencyRate, "latency-rate", 0, "events/s of the latency phase (default: half the measured end-to-end rate)")
	fs.Func("set", "pass `key=value` to clienting run as --set (repeatable), e.g. to compare configurations; "+
		"keys a release-1 baseline does not know (dedupe.*, processor.cache_size, processor.accept_state_loss) are not passed to it", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q: want key=value", v)
		}
		o.sets = append(o.sets, v)
		return nil
	})
	fs.StringVar(&o.latencyDump, "latency-dump", "", "write every latency sample (publish time in unix ms, latency in ms) to this `file`")
	fs.StringVar(&o.baseline, "baseline", "", "git `revision` whose clienting binary also runs end to end, before this tree's, on the same events "+
		"(its own consumer group, output topics and Redis prefix), printed side by side with the ratio (default: none)")
	fs.IntVar(&o.kafkaPID, "kafka-pid", 0, "`pid` of the Kafka broker, to report its CPU time (scripts/bench.sh passes it)")
	fs.BoolVar(&o.withModel, "with-model", false, "fit the churn and value model to the state ceiling's state and give it to the end-to-end runs "+
		"(default: no model, the recency heuristic, as on a fresh deployment before its first refit)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for b := range strings.SplitSeq(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.brokers = append(o.brokers, b)
		}
	}
	switch {
	case len(o.brokers) == 0:
		return o, errors.New("--brokers: no Kafka address (start the servers with scripts/harness.sh up and eval its env)")
	case o.redis == "":
		return o, errors.New("--redis: no Redis address (start the servers with scripts/harness.sh up and eval its env)")
	case o.latencyRate < 0:
		return o, fmt.Errorf("--latency-rate: %g must not be negative", o.latencyRate)
	case o.outputPartitions < 0:
		return o, fmt.Errorf("--output-partitions: %d must not be negative", o.outputPartitions)
	case o.events <= 0 || o.customers <= 0 || o.partitions <= 0 || o.batchSize <= 0:
		return o, errors.New("--events, --customers, --partitions and --batch-size must be positive")
	case o.latencyDuration <= 0:
		return o, fmt.Errorf("--latency-duration: %s must be positive", o.latencyDuration)
	case !(o.newShare > 0 && o.newShare <= 1):
		return o, fmt.Errorf("--latency-new-share: %g must be in (0, 1]", o.newShare)
	}
	if o.outputPartitions == 0 {
		o.outputPartitions = o.partitions
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	res, err := b.run(ctx)
	if res != nil {
		res.print(stdout)
	}
	return err
}
