// Package processor consumes customer events from Kafka, applies them to
// the state store, rescores the customers and publishes their transitions.
//
// # Partitions and workers
//
// A Processor joins a Kafka consumer group (kafka-go's ConsumerGroup API)
// over the input topics. Every assigned partition gets its own worker, a
// goroutine that loops: sweep (when due), fetch a batch, process it, commit.
// Three round trips run beside the loop instead of in it: the next fetch
// (while the partition has a backlog), the publish of a batch's output
// (while the next batch is fetched, applied and scored) and the offset
// commit.
// Events of one customer share a partition (the key is the customer id), so
// a customer is only ever processed by one worker at a time.
//
// # One batch
//
//  1. Decode every message. A message that does not decode goes to the
//     dead-letter topic (<input>.dlq) with the reason in headers
//     (clienting-error, clienting-error-reason and its source topic,
//     partition and offset) and is committed with the batch: bad input
//     never blocks a partition.
//  2. Decode every customer of the batch from the worker's cache of state
//     values (CacheSize, least recently used first out); read the misses
//     and the partition's checkpoint from Redis in one pipelined round
//     trip.
//  3. Apply each event in Go (state.Apply): redeliveries (per-customer
//     offset watermark) and duplicates (event ids within the dedupe window;
//     for an event with a source, a source_seq at or below the highest
//     applied of that source) change nothing but the watermark; an event
//     whose sums would overflow is dead-lettered with reason overflow.
//  4. Score the customer after each event and compare every
//     segmentation's segment and the churn-risk level with what was last
//     published for it. Every difference becomes an output message with a
//     deterministic id derived from the customer, the stream and the
//     customer's transition sequence. Redeliveries and duplicates are
//     scored too: a crash between the state write and the publish is
//     repaired on replay.
//  5. Write each changed customer once (its whole state, with the
//     published segments, sequence, scores and due time), the partition's
//     checkpoint, and the transitions' messages in the partition's outbox,
//     in one round trip (state.Store.Write), fenced: a write lands only
//     over an older state of the partition.
//  6. Publish the output and dead letters with acks=all, in one call, in
//     the background. The next batch's write waits for it, so outputs
//     leave in input order; that write also clears these outbox entries
//     (or, when the partition is idle, a clear of its own).
//  7. Once the publish succeeded, commit the offset after the batch.
//
// Redis and Kafka errors are retried with exponential backoff and never
// skip a message: processing stalls while a server is away and resumes by
// itself. A crash at any point replays from the last commit; the watermark
// makes the replay apply nothing twice. A crash after step 5 leaves the
// messages in the outbox: the next owner of the partition publishes them,
// unchanged, before anything else, so every transition is published once
// or more, always with the same id and content, and consumers drop repeats
// by id.
//
// # State loss
//
// When a worker starts (and whenever a batch finds the checkpoint lower
// than the one it wrote), it compares the partition's checkpoint in Redis
// with the offset to start from. Below it, Redis lost writes that Kafka's
// committed offsets count as done: the worker rewinds to the checkpoint
// (the start of the input when there is none), replays, and counts it in
// clienting_state_rewinds_total; the watermarks make the replay exact.
// When the input topic no longer holds those offsets, the partition stops:
// /readyz answers 503 naming it, clienting_state_lost_partitions is 1,
// until AcceptStateLoss lets it go on from the committed offset on what
// Redis kept. A write refused because another writer moved the checkpoint
// or a customer (an owner that lost the partition) makes the worker read
// the partition again from the batch, with an empty cache
// (clienting_state_fenced_writes_total).
//
// # Time-driven transitions
//
// After every evaluation the customer is put on its partition's due index
// for the earliest time a score could change with no new event. Each worker
// sweeps its due customers every SweepInterval (at most SweepLimit per
// tick, between fetches, so sweeps never starve events) and publishes their
// transitions with cause "time".
//
// # Shutdown
//
// Canceling Run's context ends the group generation: every worker finishes
// the batch in flight (bounded by ShutdownTimeout), commits it and returns;
// then the processor leaves the group.
//
// # Metrics
//
// All in the clienting_ namespace; see NewMetrics and docs/metrics.md:
// events_total{type,outcome}, decode_errors_total{reason},
// batch_duration_seconds, batch_messages, end_to_end_latency_seconds,
// consumer_lag_messages{topic,partition}, redis_duration_seconds{op},
// redis_errors_total{op}, kafka_duration_seconds{op},
// kafka_errors_total{op}, transitions_total{segmentation,from,to},
// recovery_events_total{priority}, sweep_customers_total,
// sweep_duration_seconds, sweep_backlog_customers{topic,partition},
// assigned_partitions, rebalances_total, state_cache_hits_total,
// state_cache_misses_total, state_cache_evictions_total,
// state_cache_bytes, state_fenced_writes_total, dedupe_forgotten_total,
// state_rewinds_total, state_lost_partitions{topic,partition},
// partition_stalled_seconds{topic,partition}.
package processor
