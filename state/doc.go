// Package state keeps the per-customer state of clienting in Redis and
// applies events to it.
//
// # Applying events
//
// Apply is a pure function: it applies one decoded event to a customer's
// State and says what it did. Applied: the aggregates (money, purchases,
// refunds, complaints, contacts), the rolling window of purchase buckets,
// the watermark, the dedupe memory and the source sequence reflect the
// event. Redelivery: the message's offset is at or below the customer's
// watermark for its input partition; nothing changes. Duplicate: the event
// id was applied within Rules.DedupeWindow of event time (however many
// events came in between), or the event's source_seq is at or below the
// highest applied of its source; only the watermark moves. Rejected: a sum
// would leave the 64-bit range; the error is an *events.DecodeError with
// reason overflow that names the field, and only the watermark moves, so a
// redelivery is not rejected twice. Money is summed in int64 minor units
// with overflow checks; no float touches it.
//
// The dedupe memory keeps, per customer, the 8-byte hash and the event
// time of each event applied within the window (against the customer's
// latest event time), at most Rules.MaxRecent (Config.DedupeMaxIDs,
// default 64) of them: 9 to 12 bytes each. A customer with more events in
// one window forgets the oldest early, and Report.Forgotten counts them
// (the processor's clienting_dedupe_forgotten_total).
//
// # Values
//
// A customer is one key, <prefix>:c:{<customer id>} (one hash tag: Redis
// Cluster works whatever bytes the id holds), holding one binary string
// (AppendValue, DecodeValue):
//
//	byte     version (Version, 2)
//	byte     W, the number of watermarks
//	W x 16   watermark: partition id (8 bytes: 32-bit hash of the topic,
//	         32-bit partition), applied offset (8 bytes), big-endian
//	varint   FirstSeen, unix seconds (zigzag)
//	uvarint  presence bits, then the present fields in bit order: times as
//	         seconds after FirstSeen; counts, money and margin as varints;
//	         open complaints by severity; the last R, F, M, T scores in
//	         nibbles; the population contribution (four bins); the due
//	         time (milliseconds after FirstSeen); the window buckets (day
//	         gaps, count, money, margin); the recent event ids (hash,
//	         seconds before the latest event); the source sequences and the
//	         published segments, whose names are numbers
//
// Names (segmentations, segments, churn-risk levels, sources) are numbered
// once in a dictionary, the hash <prefix>:names (name -> number; "#" holds
// the last number given), read at start and extended by a script when a
// batch brings a new name. Numbers never change; after a loss of Redis
// data the processor writes back the numbers it knows (RestoreNames).
// A typical customer (a year of purchases, five published segments) takes
// 60 to 120 bytes; `redis-cli --raw GET` shows it, and `go doc
// state.AppendValue` spells the layout out.
//
// # Writes, fences, checkpoints
//
// The processor caches states per partition and writes each changed
// customer once per batch, with Write. No domain logic runs in Redis. The
// guard is the partition's
// checkpoint, <prefix>:ck:{<topic>:<partition>}: "<offset> <token>:<n>",
// the next offset whose state Redis holds and a version unique to the
// write that stored it. Every write names the checkpoint it expects (what
// it read or wrote last) and lands only if the stored one is exactly that:
//
//   - a stored offset below the expected one (or none where one is
//     expected) means Redis lost writes (no persistence, a failover, a
//     restore from a backup): nothing is written, Lost;
//   - the very version this batch stores means an earlier attempt landed
//     and its reply was lost: Repeated, a success;
//   - any other version means another writer (an owner that lost the
//     partition in a rebalance, or the new one; a sweep too) wrote since:
//     nothing is written, Ahead.
//
// On a standalone Redis a batch is one transaction: WATCH and GET of the
// checkpoint in one round trip, then MULTI, the checkpoint, the outbox,
// the population and segment counts, the due index and the customers (one
// MSET), EXEC; a writer that moves the checkpoint in between makes EXEC
// fail whole (Ahead). Every writer of a partition's customers moves its
// checkpoint, so the checkpoint fences them all, and an owner that lost the
// partition writes nothing once the new owner wrote. On Redis Cluster the
// customers live in other slots than the partition's keys: a call of
// write.lua with the checkpoint and the partition's keys (one slot) runs
// first, and only when it
// succeeded are the customers written, each by its own call, fenced by its
// watermark for the partition (a value lands only over a lower one; equal
// is enough for a write that applies no event). Writes without a
// checkpoint (RestorePublished) are fenced so too.
//
// # Partition keys
//
// Per input partition, in the hash tag {<topic>:<partition>}: the due index
// <prefix>:due:{...} (a sorted set of customer ids by due time in unix
// milliseconds), the population histograms <prefix>:pop:{...}, the segment
// counts <prefix>:seg:{...}, the outbox <prefix>:ob:{...} (OutboxKey) and
// the checkpoint <prefix>:ck:{...}.
//
// # Upgrade from release 1
//
// Release 1 kept a customer as a hash (fields fs, le, fp, lp, n, pd, m,
// mg, rf, rm, buckets "<day>" = "count:money[:margin]" or b<D>/v<D>/g<D>,
// ct, c1..c4, lc, lk, k, kc, kr, o:<topic>:<partition> watermarks, ids (8
// recent 8-byte id hashes), q:<source>, p:<segmentation>, seq, sc, cb) and
// no checkpoint. Load reads such a hash (GET fails with WRONGTYPE, HGETALL
// follows) and the next write replaces it, fenced by its watermark field;
// its recent ids count as applied at the customer's latest event. A
// partition with a committed offset, no checkpoint and release-1 partition
// keys starts at the committed offset and gets a checkpoint with its first
// batch. VersionPrevious names that layout.
package state
