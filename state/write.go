package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/scoring"
)

// CheckpointKey is the key of a partition's checkpoint: the next offset
// of the partition whose events the store holds, written with every batch
// (see Write). A committed Kafka offset above it means Redis lost writes.
func (s *Store) CheckpointKey(topic string, partition int) string {
	return s.cfg.Prefix + ":ck:{" + topic + ":" + strconv.Itoa(partition) + "}"
}

// Checkpoint is a partition's checkpoint as stored: the next offset whose
// state Redis holds, and the version of the write that stored it
// ("<offset> <writer token>:<write number>", unique per write; "" when
// none is stored).
type Checkpoint struct {
	Offset  int64
	Version string
}

// NoCheckpoint is the checkpoint of a partition with none stored.
var NoCheckpoint = Checkpoint{Offset: -1}

// ParseCheckpoint parses a stored checkpoint ("" for none).
func ParseCheckpoint(v string) Checkpoint {
	if v == "" {
		return NoCheckpoint
	}
	offset, _, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(offset, 10, 64)
	if err != nil {
		return Checkpoint{Offset: -1, Version: v}
	}
	return Checkpoint{Offset: n, Version: v}
}

// Loaded is one customer read by Load.
type Loaded struct {
	Found bool
	State State
}

// Load reads customers' states in one pipelined round trip (two when some
// are still release-1 hashes). A customer without state comes back with
// Found false.
func (s *Store) Load(ctx context.Context, ids []string) ([]Loaded, error) {
	out := make([]Loaded, len(ids))
	states := make([]*State, len(ids))
	for i := range out {
		states[i] = &out[i].State
	}
	found, _, err := s.load(ctx, ids, states, "")
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Found = found[i]
	}
	return out, nil
}

// LoadInto reads customers' states into states (reusing their memory) and
// the partition's checkpoint, in one pipelined round trip (two when some
// customers are still release-1 hashes).
func (s *Store) LoadInto(ctx context.Context, topic string, partition int, ids []string, states []*State) (checkpoint Checkpoint, err error) {
	_, checkpoint, err = s.load(ctx, ids, states, s.CheckpointKey(topic, partition))
	return checkpoint, err
}

// ReadCheckpoint returns the partition's checkpoint, NoCheckpoint when
// none is stored.
func (s *Store) ReadCheckpoint(ctx context.Context, topic string, partition int) (Checkpoint, error) {
	_, ck, err := s.load(ctx, nil, nil, s.CheckpointKey(topic, partition))
	return ck, err
}

func (s *Store) load(ctx context.Context, ids []string, states []*State, ckKey string) ([]bool, Checkpoint, error) {
	fail := NoCheckpoint
	if !s.names.loaded.Load() {
		if err := s.reloadNames(ctx); err != nil {
			return nil, fail, err
		}
	}
	var ckCmd *redis.StringCmd
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if ckKey != "" {
			ckCmd = p.Get(ctx, ckKey)
		}
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.CustomerKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
		return nil, fail, fmt.Errorf("%w: load %d customers: %w", ErrUnavailable, len(ids), err)
	}
	checkpoint := NoCheckpoint
	if ckCmd != nil {
		v, err := ckCmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fail, fmt.Errorf("%w: read checkpoint: %w", ErrUnavailable, err)
		default:
			checkpoint = ParseCheckpoint(v)
		}
	}
	found := make([]bool, len(ids))
	var legacy []int
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			states[i].reset(ids[i])
		case isWrongType(err):
			legacy = append(legacy, i)
		case err != nil:
			return nil, fail, fmt.Errorf("%w: load customer: %w", ErrUnavailable, err)
		default:
			found[i] = true
			if err := s.decode(ctx, ids[i], v, states[i]); err != nil {
				return nil, fail, err
			}
		}
	}
	if len(legacy) > 0 {
		if err := s.loadLegacy(ctx, s.rdb, ids, legacy, states); err != nil {
			return nil, fail, err
		}
		for _, i := range legacy {
			found[i] = true
		}
	}
	return found, checkpoint, nil
}

// DecodeInto decodes a customer's value (as Load reads it and AppendValue
// encodes it) into st, reusing st's memory; a name another instance
// numbered meanwhile is read from Redis.
func (s *Store) DecodeInto(ctx context.Context, id string, v []byte, st *State) error {
	return s.decode(ctx, id, v, st)
}

// decode decodes a value, reloading the names once when it refers to one
// this instance does not know yet.
func (s *Store) decode(ctx context.Context, id string, v []byte, st *State) error {
	err := DecodeValue(id, v, st, &s.names)
	if errors.Is(err, errUnknownName) {
		if rerr := s.reloadNames(ctx); rerr != nil {
			return rerr
		}
		err = DecodeValue(id, v, st, &s.names)
	}
	return err
}

// loadLegacy reads the customers at idx, release-1 hashes, with HGETALL.
func (s *Store) loadLegacy(ctx context.Context, c redis.Cmdable, ids []string, idx []int, states []*State) error {
	if len(idx) == 0 {
		return nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(idx))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, i := range idx {
			cmds[j] = p.HGetAll(ctx, s.CustomerKey(ids[i]))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: load %d release-1 customers: %w", ErrUnavailable, len(idx), err)
	}
	for j, i := range idx {
		if err := decodeLegacy(ids[i], cmds[j].Val(), states[i]); err != nil {
			return err
		}
	}
	return nil
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// Batch is what a partition worker writes after a batch of events (or a
// sweep): the changed customers' values, the partition's checkpoint, and
// the partition keys the records move (outbox, population histograms,
// segment counts, due index).
type Batch struct {
	Topic     string
	Partition int
	// Checkpoint makes the write check and move the partition's
	// checkpoint: Expect is the checkpoint the writer read or wrote last,
	// Next the offset after the batch (Expect.Offset for a sweep). Without
	// it the customers are fenced one by one (see Write).
	Checkpoint bool
	Expect     Checkpoint
	Next       int64
	// Token names the writer (one per partition worker) in the
	// checkpoint's version.
	Token   string
	Records []Record
	// Published are customers whose outbox entries were published and
	// are to be cleared.
	Published []string

	// next is the checkpoint this batch stores, fixed at its first Write
	// so that a retried Write recognizes its own landed attempt
	next Checkpoint
}

// Record is one customer's part of a Batch.
type Record struct {
	CustomerID string
	// Value is the customer's state encoded by Store.AppendValue; nil
	// when the customer is not written (nothing changed).
	Value []byte
	// Offset is Value's watermark for the batch's partition (-1: none);
	// Strict is true when the batch applied events of the customer, so
	// that the stored watermark must be lower, not just not higher.
	Offset int64
	Strict bool
	// Moves are the segment-population changes of the record.
	Moves []Move
	// PrevContrib and Contrib move the customer between population bins
	// when they differ.
	PrevContrib, Contrib scoring.Contrib
	// Due is the next due time (zero: off the index), written to the due
	// index when DueChanged.
	Due        time.Time
	DueChanged bool
	// Outbox holds the messages that announce this record's transitions
	// (EncodeMessages); they are kept until cleared.
	Outbox []byte
}

// Move is a customer leaving segment From (none when empty) for To of a
// segmentation (churn levels under scoring.ChurnKey).
type Move struct {
	Segmentation, From, To string
}

// WriteResult says what a Write did.
type WriteResult struct {
	// Lost is true when the stored checkpoint was below Expect: Redis
	// lost writes. Ahead is true when it was another: another writer
	// wrote the partition since Expect. Nothing of the batch was written
	// then. Repeated is true when the batch had been written already by
	// an attempt whose reply was lost.
	Lost, Ahead, Repeated bool
	// Checkpoint is the stored checkpoint after the write (the one found,
	// when Lost or Ahead).
	Checkpoint Checkpoint
	// Fenced are the customers whose write did not land: their stored
	// watermark for the partition was ahead (another owner wrote them).
	Fenced []string
}

// AppendValue appends st encoded (see the package doc, "Values") to dst,
// giving numbers to names that have none yet (one round trip, rare).
func (s *Store) AppendValue(ctx context.Context, dst []byte, st *State) ([]byte, error) {
	out, err := AppendValue(dst, st, &s.names)
	if errors.Is(err, errUnknownName) {
		if err := s.ensureNames(ctx, []*State{st}); err != nil {
			return dst, err
		}
		out, err = AppendValue(dst, st, &s.names)
	}
	return out, err
}

// Write writes a batch: the changed customers' values, and with
// b.Checkpoint the partition's checkpoint, outbox, population and segment
// counts and due index.
//
// On a standalone Redis it is one script call, atomic: the stored
// checkpoint must be exactly b.Expect (what this writer read or wrote
// last), else nothing is written and the result says why (Lost, Ahead).
// Every writer of a partition's customers moves its checkpoint, so the
// checkpoint fences them all: an owner that lost the partition, and wrote
// nothing since, writes nothing more once the new owner wrote.
//
// On Redis Cluster the customers live in other slots than the partition's
// keys: the checkpoint call (with the partition's keys, one slot) runs
// first, and only when it succeeded the customers are written, each fenced
// by its own watermark for the partition (a value lands only over a lower
// one; equal is enough for a write that applies no event), in a second
// round trip. A loss on a node other than the checkpoint's goes unnoticed
// there.
//
// Without b.Checkpoint (a restore), customers are fenced by their
// watermarks and the partition's keys are written beside them.
func (s *Store) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	res := WriteResult{Checkpoint: b.Expect}
	if b.Checkpoint && b.next.Version == "" {
		n := s.writes.Add(1)
		b.next = Checkpoint{Offset: b.Next,
			Version: strconv.FormatInt(b.Next, 10) + " " + b.Token + ":" + strconv.FormatUint(n, 36)}
	}
	tag := string(binary.BigEndian.AppendUint64(nil, uint64(PartitionOf(b.Topic, b.Partition))))
	head := func(mode string) []any {
		return []any{mode, tag, WatermarkField(b.Topic, b.Partition), b.Expect.Version, b.next.Version}
	}
	var (
		keys    []string // customer keys
		triples []any
		idx     []int // record index of each customer key
	)
	groups := s.partitionGroups(b)
	for i := range b.Records {
		r := &b.Records[i]
		if r.Value == nil {
			continue
		}
		idx = append(idx, i)
		keys = append(keys, s.CustomerKey(r.CustomerID))
		strict := "0"
		if r.Strict {
			strict = "1"
		}
		triples = append(triples, r.Offset, strict, r.Value)
	}
	if b.Checkpoint && !s.cluster {
		return s.writeTx(ctx, b, keys, triples, groups)
	}
	partKeys := []string{s.CheckpointKey(b.Topic, b.Partition), s.OutboxKey(b.Topic, b.Partition),
		s.PopulationKey(b.Topic, b.Partition), s.SegmentsKey(b.Topic, b.Partition), s.DueKey(b.Topic, b.Partition)}
	noGroups := []any{0, 0, 0, 0, 0, 0}

	var first []*redis.Cmd // the calls of the first round trip
	switch {
	case b.Checkpoint:
		first = append(first, s.writeCall(ctx, partKeys, head("c"), groups, nil))
	default:
		first = s.fencedCalls(ctx, keys, head("-"), noGroups, triples)
	}
	pipelineOthers := !b.Checkpoint
	if err := s.runCalls(ctx, first, func(p redis.Pipeliner) {
		if pipelineOthers {
			s.partitionCommands(ctx, p, b, groups)
		}
	}); err != nil {
		return res, fmt.Errorf("%w: write batch of %d customers: %w", ErrUnavailable, len(idx), err)
	}
	fencedCalls := first
	if b.Checkpoint {
		reply, err := first[0].Slice()
		if err != nil || len(reply) < 2 {
			return res, fmt.Errorf("%w: write batch: reply %v: %w", ErrUnavailable, reply, err)
		}
		status, _ := reply[0].(int64)
		stored, _ := reply[1].(string)
		res.Checkpoint = ParseCheckpoint(stored)
		switch status {
		case 1:
			res.Lost = true
			return res, nil
		case 2:
			res.Ahead = true
			return res, nil
		case 3:
			res.Repeated = true
		}
		// Redis Cluster: the customers, fenced, now that the checkpoint
		// is ours (again, after a repeated write: the fence lets through
		// only what did not land)
		fencedCalls = s.fencedCalls(ctx, keys, head("-"), noGroups, triples)
		if err := s.runCalls(ctx, fencedCalls, nil); err != nil {
			return res, fmt.Errorf("%w: write %d customers: %w", ErrUnavailable, len(idx), err)
		}
	}
	first0 := 0 // index in idx of the first customer of the call at hand
	for _, c := range fencedCalls {
		reply, err := c.Slice()
		if err != nil || len(reply) < 2 {
			return res, fmt.Errorf("%w: write customers: reply %v: %w", ErrUnavailable, reply, err)
		}
		if !res.Repeated {
			for _, k := range reply[2:] {
				n, _ := k.(int64)
				res.Fenced = append(res.Fenced, b.Records[idx[first0+int(n)-1]].CustomerID)
			}
		}
		nkeys, _ := c.Args()[2].(int) // evalsha, sha, the number of keys
		first0 += nkeys
	}
	return res, nil
}

// writeTx is Write with a checkpoint on a standalone Redis: a
// transaction (WATCH the checkpoint, read it, MULTI ... EXEC) that writes
// the checkpoint, the partition's keys and the customers (one MSET), or
// nothing when the checkpoint is not the expected one or changes before
// EXEC. No script: Redis spends its time on the writes alone.
func (s *Store) writeTx(ctx context.Context, b *Batch, keys []string, triples, groups []any) (WriteResult, error) {
	res := WriteResult{Checkpoint: b.Expect}
	ckKey := s.CheckpointKey(b.Topic, b.Partition)
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		// WATCH and GET in one round trip, the transaction in a second
		var get *redis.StringCmd
		if _, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "watch", ckKey)
			get = p.Get(ctx, ckKey)
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		stored, _ := get.Result()
		res.Checkpoint = ParseCheckpoint(stored)
		switch {
		case stored == b.Expect.Version:
		case stored == b.next.Version:
			res.Repeated = true
		case res.Checkpoint.Offset < ParseCheckpoint(b.Expect.Version).Offset:
			res.Lost = true
		default:
			res.Ahead = true
		}
		if res.Repeated || res.Lost || res.Ahead {
			// no EXEC to end the WATCH: the connection goes back to the pool
			return tx.Unwatch(ctx).Err()
		}
		if testHookBeforeExec != nil {
			testHookBeforeExec()
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, ckKey, b.next.Version, 0)
			s.partitionCommands(ctx, p, b, groups)
			if len(keys) > 0 {
				pairs := make([]any, 0, 2*len(keys))
				for j, k := range keys {
					pairs = append(pairs, k, triples[3*j+2])
				}
				p.MSet(ctx, pairs...)
			}
			return nil
		})
		return err
	})
	if errors.Is(err, redis.TxFailedErr) {
		// another writer moved the checkpoint between our read and EXEC
		stored, gerr := s.rdb.Get(ctx, ckKey).Result()
		if gerr != nil && !errors.Is(gerr, redis.Nil) {
			return res, fmt.Errorf("%w: read checkpoint: %w", ErrUnavailable, gerr)
		}
		res = WriteResult{Ahead: true, Checkpoint: ParseCheckpoint(stored)}
		if res.Checkpoint.Offset < ParseCheckpoint(b.Expect.Version).Offset {
			res = WriteResult{Lost: true, Checkpoint: res.Checkpoint}
		}
		return res, nil
	}
	if err != nil {
		return WriteResult{Checkpoint: b.Expect}, fmt.Errorf("%w: write batch of %d customers: %w", ErrUnavailable, len(keys), err)
	}
	if !res.Lost && !res.Ahead && !res.Repeated {
		res.Checkpoint = b.next
	}
	return res, nil
}

// testHookBeforeExec, when set (by tests), runs between the read of the
// checkpoint and the transaction of writeTx.
var testHookBeforeExec func()

// fencedCalls returns the calls that write customers fenced: one per
// customer on Redis Cluster (each its own slot), one for all of them on a
// standalone Redis.
func (s *Store) fencedCalls(ctx context.Context, keys []string, head, groups, triples []any) []*redis.Cmd {
	if len(keys) == 0 {
		return nil
	}
	if !s.cluster {
		return []*redis.Cmd{s.writeCall(ctx, keys, head, groups, triples)}
	}
	calls := make([]*redis.Cmd, len(keys))
	for j, k := range keys {
		calls[j] = s.writeCall(ctx, []string{k}, head, groups, triples[3*j:3*j+3])
	}
	return calls
}

// writeCall builds one EVALSHA of the write script.
func (s *Store) writeCall(ctx context.Context, keys []string, head, groups, triples []any) *redis.Cmd {
	args := make([]any, 0, 3+len(keys)+len(head)+len(groups)+len(triples))
	args = append(args, "evalsha", writeScript.Hash(), len(keys))
	for _, k := range keys {
		args = append(args, k)
	}
	args = append(args, head...)
	args = append(args, groups...)
	args = append(args, triples...)
	return redis.NewCmd(ctx, args...)
}

// partitionGroups lists the partition-key changes of a batch as the write
// script takes them: outbox entries to clear and to write, population and
// segment-count increments (summed over the batch), due times, ids off the
// due index; each group its count, then its items.
func (s *Store) partitionGroups(b *Batch) []any {
	type segment struct{ segmentation, name string }
	var (
		box  []any
		pop  = map[string]int64{}
		segs = map[segment]int64{}
		due  []any
		gone []any
	)
	movePop := func(c scoring.Contrib, d int64) {
		if c.Active {
			for _, f := range contribFields(c) {
				pop[f] += d
			}
		}
	}
	for i := range b.Records {
		r := &b.Records[i]
		if len(r.Outbox) > 0 {
			box = append(box, r.CustomerID, r.Outbox)
		}
		if r.Contrib != r.PrevContrib {
			movePop(r.PrevContrib, -1)
			movePop(r.Contrib, 1)
		}
		for _, m := range r.Moves {
			if m.From != "" {
				segs[segment{m.Segmentation, m.From}]--
			}
			segs[segment{m.Segmentation, m.To}]++
		}
		if r.DueChanged {
			if r.Due.IsZero() {
				gone = append(gone, r.CustomerID)
			} else {
				due = append(due, r.Due.UnixMilli(), r.CustomerID)
			}
		}
	}
	out := make([]any, 0, 6+len(b.Published)+len(box)+2*len(pop)+2*len(segs)+len(due)+len(gone))
	out = append(out, len(b.Published))
	for _, id := range b.Published {
		out = append(out, id)
	}
	out = append(out, len(box)/2)
	out = append(out, box...)
	n := len(out)
	out = append(out, 0)
	for f, d := range pop {
		if d != 0 {
			out = append(out, f, d)
		}
	}
	out[n] = (len(out) - n - 1) / 2
	n = len(out)
	out = append(out, 0)
	for sg, d := range segs {
		if d != 0 {
			out = append(out, sg.segmentation+":"+sg.name, d)
		}
	}
	out[n] = (len(out) - n - 1) / 2
	out = append(out, len(due)/2)
	out = append(out, due...)
	out = append(out, len(gone))
	out = append(out, gone...)
	return out
}

// partitionCommands queues the partition-key changes of a write without
// a checkpoint (groups as partitionGroups lists them) as plain commands.
func (s *Store) partitionCommands(ctx context.Context, p redis.Pipeliner, b *Batch, groups []any) {
	box := s.OutboxKey(b.Topic, b.Partition)
	keys := []string{box, box, s.PopulationKey(b.Topic, b.Partition), s.SegmentsKey(b.Topic, b.Partition),
		s.DueKey(b.Topic, b.Partition), s.DueKey(b.Topic, b.Partition)}
	widths := []int{1, 2, 2, 2, 2, 1}
	i := 0
	for g, key := range keys {
		n, _ := groups[i].(int)
		items := groups[i+1 : i+1+widths[g]*n]
		i += 1 + widths[g]*n
		if n == 0 {
			continue
		}
		switch g {
		case 0:
			p.HDel(ctx, key, anysToStrings(items)...)
		case 1:
			p.HSet(ctx, key, items...)
		case 2, 3:
			for j := 0; j < len(items); j += 2 {
				p.HIncrBy(ctx, key, items[j].(string), items[j+1].(int64))
			}
		case 4:
			zs := make([]redis.Z, 0, n)
			for j := 0; j < len(items); j += 2 {
				zs = append(zs, redis.Z{Score: float64(items[j].(int64)), Member: items[j+1]})
			}
			p.ZAdd(ctx, key, zs...)
		case 5:
			p.ZRem(ctx, key, items...)
		}
	}
}

func anysToStrings(items []any) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i], _ = v.(string)
	}
	return out
}

// runCalls runs script calls in one pipeline, with more commands queued
// by also (nil: none). When Redis (or some masters of a cluster) forgot
// the script (a restart, SCRIPT FLUSH), it loads it and runs again the
// calls that failed so; the rest of the pipeline ran.
func (s *Store) runCalls(ctx context.Context, calls []*redis.Cmd, also func(redis.Pipeliner)) error {
	run := func(calls []*redis.Cmd, also func(redis.Pipeliner)) error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range calls {
				_ = p.Process(ctx, c)
			}
			if also != nil {
				also(p)
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	}
	if len(calls) == 0 && also == nil {
		return nil
	}
	err := run(calls, also)
	if err == nil || !isNoScript(err) {
		return err
	}
	if lerr := s.loadScript(ctx); lerr != nil {
		return lerr
	}
	var again []*redis.Cmd
	for i, c := range calls {
		if isNoScript(c.Err()) {
			calls[i] = redis.NewCmd(ctx, c.Args()...)
			again = append(again, calls[i])
		}
	}
	return run(again, nil)
}

// loadScript loads the write script on every node.
func (s *Store) loadScript(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		return writeScript.Load(ctx, c).Err()
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return load(ctx, c) })
	} else {
		err = load(ctx, s.rdb)
	}
	if err != nil {
		return fmt.Errorf("%w: load write script: %w", ErrUnavailable, err)
	}
	return nil
}

func isNoScript(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOSCRIPT")
}

// HasPartitionKeys reports whether any of a partition's keys (due index,
// population histograms, segment counts, outbox) exists: a partition with
// a committed offset, no checkpoint and none of these lost its state;
// with one of these, its state was written by a release without
// checkpoints.
func (s *Store) HasPartitionKeys(ctx context.Context, topic string, partition int) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.DueKey(topic, partition), s.PopulationKey(topic, partition),
		s.SegmentsKey(topic, partition), s.OutboxKey(topic, partition)).Result()
	if err != nil {
		return false, fmt.Errorf("%w: partition keys: %w", ErrUnavailable, err)
	}
	return n > 0, nil
}

// Empty reports whether s holds nothing (a customer never written).
func (s *State) Empty() bool {
	return s.FirstSeen.IsZero() && len(s.Watermarks) == 0
}
