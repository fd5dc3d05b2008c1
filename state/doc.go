// Package state keeps the per-customer state of clienting in Redis.
//
// # Layout
//
// All of a customer's state is one hash, <prefix>:c:{<customer id>}. One
// key per customer means the apply script touches a single key, so it is
// atomic and works on Redis Cluster whatever bytes the id holds (braces
// included). Per-partition keys carry the topic and partition in their hash
// tag: the due index <prefix>:due:{<topic>:<partition>} is a sorted set of
// customer ids scored by due time in unix milliseconds.
//
// Hash fields (times are unix seconds, money integer minor units):
//
//	fs, le        first and latest event time of any type
//	fp, lp        first and latest sale time (by event time, not arrival)
//	n, pd         lifetime sales and distinct sale days
//	m, mg         lifetime net money and net margin (refunds subtracted)
//	rf, rm        lifetime refunds and refunded money
//	<D>           rolling-window bucket starting on day D (days since
//	              1970-01-01, the only field names that start with a
//	              digit): "sales:net money[:net margin]", the margin left
//	              out when zero
//	ct, c1..c4    complaints opened; open complaints by severity
//	lc, lk        latest complaint and contact time
//	k, kc, kr     contacts, contacts since the latest sale, responses
//	o:<t>:<p>     applied-offset watermark of topic t, partition p
//	ids           the last IDMemory event ids, 8-byte hashes, newest first
//	q:<source>    the highest source_seq applied of the events of source
//	p:<name>      last published segment of segmentation name (p:churn:
//	              churn-risk level)
//	seq           transitions published for the customer
//	sc, cb        scores and population contribution of the last
//	              evaluation
//
// Every field name is short and every value at most 64 bytes (a bucket's
// three 64-bit numbers take at most 61), so that a customer's hash stays
// a listpack under Redis's default hash-max-listpack-value, and a customer
// holds at most WindowDays/BucketDays+2 buckets (sources are at most 62
// bytes, so q:<source> fits too). The watermark's name holds the topic:
// a topic name over 60 bytes or so would make it longer. Hashes written
// before buckets were packed (b<D>, v<D>, g<D>: sales, net money, net margin)
// still decode and are deleted like packed ones once they leave the window;
// the script no longer updates them.
//
// # Exactly once
//
// The apply script (apply.lua) compares the message's offset with the
// customer's watermark for that partition: at or below it, the message is a
// redelivery and nothing changes. Otherwise it looks the event id up in the
// recent-id memory: a hit is a producer duplicate. Only then does it apply
// the event, advance the watermark and remember the id, all in one atomic
// script. Because a customer's events share a partition, the watermark is
// exact for redeliveries; the id memory is bounded (IDMemory, default 8)
// and catches duplicates sent close together, which is how producer retries
// duplicate.
//
// An event with a source (events.Event.Source, such as the history
// importer's) carries its number in that source, SourceSeq, and the source
// numbers each customer's events in the order it publishes them. The hash
// keeps the highest applied SourceSeq per source (q:<source>): an event at
// or below it is a duplicate however long ago the original was applied,
// so a source can publish its events again, all of them or from any point,
// and nothing is counted twice. One field per source, whatever the number
// of events: memory stays bounded. A duplicate of either kind advances the
// watermark and changes nothing else.
//
// Money is summed exactly: the script adds in Lua numbers while both
// operands are below 5e13 in magnitude, where doubles hold every integer,
// and in decimal strings above, failing as HINCRBY does past the 64-bit
// range (and writing nothing then). When a purchase opens a new bucket, the
// buckets that left the rolling window (judged against the customer's
// latest event time) are deleted.
//
// # Cost
//
// The script reads the hash once (HGETALL) and writes it once (one HSET,
// and an HDEL when buckets leave the window): in Redis, each redis.call
// and each string crossing into Lua costs more than the arithmetic around
// it. It returns the state after the event as one string (fields and
// values separated by newlines, then the outcome), which ApplyBatch
// decodes without an allocation per field.
//
// A batch of events is applied with one pipelined round trip (EVALSHA per
// event), its arguments built in one buffer; after a Redis restart forgets
// the script it is loaded again and the batch replayed, which the
// watermark makes harmless. RecordBatch writes a batch's records in one
// round trip too: one HSET per customer, and per partition key one command
// for the whole batch (the outbox, the population and segment counts summed
// over the batch, the due index); RecordAndClear clears the previous
// batch's published outbox entries in the same round trip.
package state
