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
//  2. Apply the events to the store in one pipelined round trip. The store's
//     atomic script skips redeliveries (per-customer offset watermark) and
//     duplicates (recent event ids; for an event with a source, a
//     source_seq at or below the highest applied of that source) and
//     returns each customer's state right after the event.
//  3. Score each state and compare every segmentation's segment and the
//     churn-risk level with what was last published for the customer. Every
//     difference becomes an output message with a deterministic id derived
//     from the customer, the stream and the customer's transition sequence.
//     Redeliveries and duplicates are scored too: a crash between the state
//     update and the publish is repaired on replay.
//  4. Record in the store the new published segments, the sequence, the
//     customer's next due time, and the transitions' messages in the
//     partition's outbox.
//  5. Publish the output and dead letters with acks=all, in one call, in
//     the background. The next batch's record waits for it, so outputs
//     leave in input order; that record also clears these outbox entries
//     (or, when the partition is idle, a clear of its own).
//  6. Once the publish succeeded, commit the offset after the batch.
//
// Redis and Kafka errors are retried with exponential backoff and never
// skip a message: processing stalls while a server is away and resumes by
// itself. A crash at any point replays from the last commit; the watermark
// makes the replay apply nothing twice. A crash after step 4 leaves the
// messages in the outbox: the next owner of the partition publishes them,
// unchanged, before anything else, so every transition is published once
// or more, always with the same id and content, and consumers drop repeats
// by id.
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
// All in the clienting_ namespace; see NewMetrics and the README:
// events_total{type,outcome}, decode_errors_total{reason},
// batch_duration_seconds, batch_messages, end_to_end_latency_seconds,
// consumer_lag_messages{topic,partition}, redis_duration_seconds{op},
// redis_errors_total{op}, kafka_duration_seconds{op},
// kafka_errors_total{op}, transitions_total{segmentation,from,to},
// recovery_events_total{priority}, sweep_customers_total,
// sweep_duration_seconds, sweep_backlog_customers{topic,partition},
// assigned_partitions, rebalances_total.
package processor
