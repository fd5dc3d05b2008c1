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
//	b<D> v<D> g<D> rolling-window bucket starting on day D (days since
//	              1970-01-01): sales, net money, net margin
//	ct, c1..c4    complaints opened; open complaints by severity
//	lc, lk        latest complaint and contact time
//	k, kc, kr     contacts, contacts since the latest sale, responses
//	o:<t>:<p>     applied-offset watermark of topic t, partition p
//	ids           the last IDMemory event ids, 8-byte hashes, newest first
//	p:<name>      last published segment of segmentation name (p:churn:
//	              churn-risk level)
//	seq           transitions published for the customer
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
// Money is summed with HINCRBY (exact 64-bit integers), never with Lua
// numbers. Buckets that leave the rolling window (judged against the
// customer's latest event time) are deleted by the script, so a customer
// holds at most WindowDays/BucketDays+1 buckets.
//
// A batch of events is applied with one pipelined round trip (EVALSHA per
// event); after a Redis restart forgets the script it is loaded again and
// the batch replayed, which the watermark makes harmless.
package state
