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

// NoCheckpoint is the checkpoint of a partition with none stored.
const NoCheckpoint = -1

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
func (s *Store) LoadInto(ctx context.Context, topic string, partition int, ids []string, states []*State) (checkpoint int64, err error) {
	_, checkpoint, err = s.load(ctx, ids, states, s.CheckpointKey(topic, partition))
	return checkpoint, err
}

// ReadCheckpoint returns the partition's checkpoint, NoCheckpoint when
// none is stored.
func (s *Store) ReadCheckpoint(ctx context.Context, topic string, partition int) (int64, error) {
	_, ck, err := s.load(ctx, nil, nil, s.CheckpointKey(topic, partition))
	return ck, err
}

func (s *Store) load(ctx context.Context, ids []string, states []*State, ckKey string) ([]bool, int64, error) {
	if !s.names.loaded.Load() {
		if err := s.reloadNames(ctx); err != nil {
			return nil, 0, err
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
		return nil, 0, fmt.Errorf("%w: load %d customers: %w", ErrUnavailable, len(ids), err)
	}
	checkpoint := int64(NoCheckpoint)
	if ckCmd != nil {
		v, err := ckCmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, 0, fmt.Errorf("%w: read checkpoint: %w", ErrUnavailable, err)
		default:
			offset, _, _ := strings.Cut(v, " ") // "<offset> <token>"
			if checkpoint, err = strconv.ParseInt(offset, 10, 64); err != nil {
				return nil, 0, fmt.Errorf("state: checkpoint %s: %q: %w", ckKey, v, err)
			}
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
			return nil, 0, fmt.Errorf("%w: load customer: %w", ErrUnavailable, err)
		default:
			found[i] = true
			if err := s.decode(ctx, ids[i], v, states[i]); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(legacy) > 0 {
		if err := s.loadLegacy(ctx, s.rdb, ids, legacy, states); err != nil {
			return nil, 0, err
		}
		for _, i := range legacy {
			found[i] = true
		}
	}
	return found, checkpoint, nil
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
	// Checkpoint makes the write check and advance the partition's
	// checkpoint: Expect is the checkpoint the writer read or wrote last
	// (NoCheckpoint: none), Next the one after the batch (Expect for a
	// sweep). Without it only the customers are fenced.
	Checkpoint   bool
	Expect, Next int64
	Records      []Record
	// Published are customers whose outbox entries were published and
	// are to be cleared.
	Published []string
	// Token names the writer (one per partition worker): a retried write
	// whose first attempt landed is recognized by it.
	Token string
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
	// lost writes. Ahead is true when it was above: another writer wrote
	// the partition since Expect. Nothing of the batch was written then
	// (on Redis Cluster, see Write). Repeated is true when the batch had
	// been written already by an attempt whose reply was lost (the
	// checkpoint is Next, by the same Token): Fenced is unknown then.
	Lost, Ahead, Repeated bool
	// Checkpoint is the stored checkpoint after the write (the one found,
	// when Lost or Ahead).
	Checkpoint int64
	// Fenced are the customers whose write did not land: their stored
	// watermark for the partition was ahead (another owner wrote them).
	Fenced []string
}

// AppendValue appends st encoded (see the package doc, "Values") to dst,
// giving numbers to names that have none yet (one round trip, rare).
func (s *Store) AppendValue(ctx context.Context, dst []byte, st *State) ([]byte, error) {
	missing := false
	st.names(func(name string) {
		if _, ok := s.names.ID(name); !ok {
			missing = true
		}
	})
	if missing {
		if err := s.ensureNames(ctx, []*State{st}); err != nil {
			return dst, err
		}
	}
	return AppendValue(dst, st, &s.names)
}

// Write writes a batch in one pipelined round trip: the checkpoint check,
// the outbox entries (whatever else lands, the messages that announce it
// are kept), the fenced customer values, then the population and segment
// counts summed over the batch and the due index changes.
//
// On a standalone Redis the checkpoint, the outbox and the customers are
// written by one script call: atomically, and not at all when the
// checkpoint is not the expected one. On Redis Cluster the customers live
// in other slots than the partition's keys, so each is written by a script
// call of its own after the checkpoint's, in the same pipeline: the fence
// still holds for every customer, but a checkpoint that is not the
// expected one no longer stops the customers' writes, and a loss on a node
// other than the checkpoint's is not detected.
//
// The population and segment counts and the due index are written after
// the script, also when it refused the batch: a crash or a refusal can
// leave the counts off by the customers of a batch; they only shape
// quantile scores and reports, never a customer's own state.
func (s *Store) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	res := WriteResult{Checkpoint: b.Expect}
	type segment struct{ segmentation, name string }
	var (
		outbox  []any
		pop     map[string]int64
		segs    map[segment]int64
		due     []redis.Z
		gone    []any
		keys    []string
		triples []any
		idx     []int // record index of each written customer
		ckKey   = s.CheckpointKey(b.Topic, b.Partition)
		boxKey  = s.OutboxKey(b.Topic, b.Partition)
		tag     = string(binary.BigEndian.AppendUint64(nil, uint64(PartitionOf(b.Topic, b.Partition))))
		wmField = WatermarkField(b.Topic, b.Partition)
		movePop = func(c scoring.Contrib, d int64) {
			if !c.Active {
				return
			}
			if pop == nil {
				pop = map[string]int64{}
			}
			for _, f := range contribFields(c) {
				pop[f] += d
			}
		}
	)
	for i := range b.Records {
		r := &b.Records[i]
		if len(r.Outbox) > 0 {
			outbox = append(outbox, r.CustomerID, r.Outbox)
		}
		if r.Value != nil {
			idx = append(idx, i)
			keys = append(keys, s.CustomerKey(r.CustomerID))
			strict := "0"
			if r.Strict {
				strict = "1"
			}
			triples = append(triples, r.Offset, strict, r.Value)
		}
		if r.Contrib != r.PrevContrib {
			movePop(r.PrevContrib, -1)
			movePop(r.Contrib, 1)
		}
		for _, m := range r.Moves {
			if segs == nil {
				segs = map[segment]int64{}
			}
			if m.From != "" {
				segs[segment{m.Segmentation, m.From}]--
			}
			segs[segment{m.Segmentation, m.To}]++
		}
		if r.DueChanged {
			if r.Due.IsZero() {
				gone = append(gone, r.CustomerID)
			} else {
				due = append(due, redis.Z{Score: float64(r.Due.UnixMilli()), Member: r.CustomerID})
			}
		}
	}
	// script builds one call of the write script
	next := strconv.FormatInt(b.Next, 10) + " " + b.Token
	script := func(mode string, keys []string, clear []string, box []any, triples []any) *redis.Cmd {
		args := make([]any, 0, 3+len(keys)+7+len(clear)+len(box)+len(triples))
		args = append(args, "evalsha", writeScript.Hash(), len(keys))
		for _, k := range keys {
			args = append(args, k)
		}
		args = append(args, mode, tag, wmField, b.Expect, next, len(clear))
		for _, id := range clear {
			args = append(args, id)
		}
		args = append(args, len(box)/2)
		args = append(args, box...)
		args = append(args, triples...)
		return redis.NewCmd(ctx, args...)
	}
	var calls []*redis.Cmd // the script calls; with a checkpoint, its call first
	switch {
	case !s.cluster && b.Checkpoint:
		calls = append(calls, script("c", append([]string{ckKey, boxKey}, keys...), b.Published, outbox, triples))
	case b.Checkpoint:
		calls = append(calls, script("c", []string{ckKey, boxKey}, b.Published, outbox, nil))
		fallthrough
	default:
		if s.cluster {
			for j, k := range keys {
				calls = append(calls, script("-", []string{k}, nil, nil, triples[3*j:3*j+3]))
			}
		} else if len(keys) > 0 {
			calls = append(calls, script("-", keys, nil, nil, triples))
		}
	}
	// pipeline runs the calls (with the other commands unless scriptsOnly)
	pipeline := func(calls []*redis.Cmd, scriptsOnly bool) error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			if !scriptsOnly && !b.Checkpoint && len(b.Published) > 0 {
				p.HDel(ctx, boxKey, b.Published...)
			}
			if !scriptsOnly && !b.Checkpoint && len(outbox) > 0 {
				p.HSet(ctx, boxKey, outbox...)
			}
			for _, c := range calls {
				_ = p.Process(ctx, c)
			}
			if scriptsOnly {
				return nil
			}
			popKey := s.PopulationKey(b.Topic, b.Partition)
			for f, d := range pop {
				if d != 0 {
					p.HIncrBy(ctx, popKey, f, d)
				}
			}
			segKey := s.SegmentsKey(b.Topic, b.Partition)
			for sg, d := range segs {
				if d != 0 {
					p.HIncrBy(ctx, segKey, sg.segmentation+":"+sg.name, d)
				}
			}
			dueKey := s.DueKey(b.Topic, b.Partition)
			if len(due) > 0 {
				p.ZAdd(ctx, dueKey, due...)
			}
			if len(gone) > 0 {
				p.ZRem(ctx, dueKey, gone...)
			}
			return nil
		})
		return err
	}
	err := pipeline(calls, false)
	if err != nil && isNoScript(err) {
		// Redis (or some masters of a cluster) forgot the script: a
		// restart or SCRIPT FLUSH. Load it and run again the calls that
		// failed so; the rest of the pipeline ran.
		if lerr := s.loadScript(ctx); lerr != nil {
			return res, lerr
		}
		var again []*redis.Cmd
		for i, c := range calls {
			if isNoScript(c.Err()) {
				calls[i] = redis.NewCmd(ctx, c.Args()...)
				again = append(again, calls[i])
			}
		}
		err = pipeline(again, true)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return res, fmt.Errorf("%w: write batch of %d customers: %w", ErrUnavailable, len(idx), err)
	}
	first := 0 // index in idx of the first customer of the call at hand
	for j, c := range calls {
		reply, err := c.Int64Slice()
		if err != nil || len(reply) < 2 {
			return res, fmt.Errorf("%w: write batch: reply %v: %w", ErrUnavailable, reply, err)
		}
		switch reply[0] {
		case 1:
			res.Lost, res.Checkpoint = true, reply[1]
			return res, nil
		case 2:
			res.Ahead, res.Checkpoint = true, reply[1]
			return res, nil
		case 3:
			res.Repeated, res.Checkpoint = true, reply[1]
			if !s.cluster {
				return res, nil
			}
			continue
		}
		if j == 0 && b.Checkpoint {
			res.Checkpoint = reply[1]
		}
		for _, k := range reply[2:] {
			res.Fenced = append(res.Fenced, b.Records[idx[first+int(k)-1]].CustomerID)
		}
		nkeys, _ := c.Args()[2].(int) // evalsha, sha, the number of keys
		if j == 0 && b.Checkpoint {
			nkeys -= 2 // the checkpoint and the outbox
		}
		first += nkeys
	}
	return res, nil
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
