package state_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// TestStore runs the store's behavior suite on the test Redis: the
// standalone one, or the Redis Cluster in testenv.ClusterMode (the second
// pass of scripts/test.sh). TestStoreCluster runs it on the cluster too.
func TestStore(t *testing.T) {
	storeSuite(t, testenv.RedisClient(t))
}

// newStore returns a store with a prefix of its own on rdb.
func newStore(t testing.TB, rdb redis.UniversalClient, cfg state.Config) *state.Store {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = testenv.Unique(t, "s")
	}
	s, err := state.New(rdb, cfg)
	require.NoError(t, err)
	return s
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const topic = "in"

// record is the record of st for partition 3 of topic, encoded by s.
func record(t *testing.T, s *state.Store, st *state.State, strict bool) state.Record {
	t.Helper()
	v, err := s.AppendValue(ctxFor(t), nil, st)
	require.NoError(t, err)
	return state.Record{CustomerID: st.ID, Value: v, Offset: offsetOf(st, in3), Strict: strict}
}

func write(t *testing.T, s *state.Store, b *state.Batch) state.WriteResult {
	t.Helper()
	if b.Topic == "" {
		b.Topic, b.Partition = topic, 3
	}
	res, err := s.Write(ctxFor(t), b)
	require.NoError(t, err)
	return res
}

func load(t *testing.T, s *state.Store, ids ...string) []state.Loaded {
	t.Helper()
	out, err := s.Load(ctxFor(t), ids)
	require.NoError(t, err)
	require.Len(t, out, len(ids))
	return out
}

// customer applies the steps to a new state of customer id.
func customer(t *testing.T, id string, steps ...step) *state.State {
	t.Helper()
	st := &state.State{}
	st.ID = id
	for i := range steps {
		steps[i].e.CustomerID = id
	}
	require.NoError(t, run(t, st, rules(), steps...))
	return st
}

func isCluster(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}

// wrote checks that a checkpoint write landed, nothing refused or fenced,
// and stored a checkpoint of its own: offset next, a version of token's
// ("<offset> <token>:<n>"). It returns that checkpoint.
func wrote(t *testing.T, res state.WriteResult, next int64, token string) state.Checkpoint {
	t.Helper()
	require.False(t, res.Lost || res.Ahead || res.Repeated, "%+v", res)
	require.Empty(t, res.Fenced)
	require.Equal(t, next, res.Checkpoint.Offset)
	require.True(t, strings.HasPrefix(res.Checkpoint.Version, fmt.Sprintf("%d %s:", next, token)), "version %q", res.Checkpoint.Version)
	require.Equal(t, res.Checkpoint, state.ParseCheckpoint(res.Checkpoint.Version))
	return res.Checkpoint
}

// writer writes batches of partition 3 as a partition worker does:
// each batch expects the checkpoint of the one before (offset +1), or,
// plain, without a checkpoint.
type writer struct {
	s     *state.Store
	token string
	plain bool
	at    state.Checkpoint
}

func newWriter(s *state.Store, token string) *writer {
	return &writer{s: s, token: token, at: state.NoCheckpoint}
}

// write writes b and checks that it landed (customers may be fenced).
func (w *writer) write(t *testing.T, b *state.Batch) state.WriteResult {
	t.Helper()
	if !w.plain {
		b.Checkpoint, b.Expect, b.Token, b.Next = true, w.at, w.token, max(w.at.Offset, 0)+1
	}
	res := write(t, w.s, b)
	require.False(t, res.Lost || res.Ahead || res.Repeated, "%+v", res)
	if !w.plain {
		fenced := res.Fenced
		res.Fenced = nil
		w.at = wrote(t, res, b.Next, w.token)
		res.Fenced = fenced
	}
	return res
}

func (w *writer) records(t *testing.T, recs ...state.Record) state.WriteResult {
	t.Helper()
	return w.write(t, &state.Batch{Records: recs})
}

// stored is everything a batch of partition 3 may write, as Redis holds
// it: checkpoint, outbox, population histograms, segment counts, due
// index, and the raw values of some customers.
type stored struct {
	Checkpoint                   string
	Outbox, Population, Segments map[string]string
	Due                          []redis.Z
	Customers                    map[string]string
}

func readStored(t *testing.T, rdb redis.UniversalClient, s *state.Store, ids ...string) stored {
	t.Helper()
	ctx := ctxFor(t)
	get := func(key string) string {
		v, err := rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return "<none>"
		}
		require.NoError(t, err)
		return v
	}
	hash := func(key string) map[string]string {
		v, err := rdb.HGetAll(ctx, key).Result()
		require.NoError(t, err)
		return v
	}
	due, err := rdb.ZRangeWithScores(ctx, s.DueKey(topic, 3), 0, -1).Result()
	require.NoError(t, err)
	out := stored{Checkpoint: get(s.CheckpointKey(topic, 3)), Outbox: hash(s.OutboxKey(topic, 3)),
		Population: hash(s.PopulationKey(topic, 3)), Segments: hash(s.SegmentsKey(topic, 3)), Due: due,
		Customers: map[string]string{}}
	for _, id := range ids {
		out.Customers[id] = get(s.CustomerKey(id))
	}
	return out
}

func TestParseCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want state.Checkpoint
	}{
		{"", state.NoCheckpoint},
		{"100 w1:3", state.Checkpoint{Offset: 100, Version: "100 w1:3"}},
		{"0 a b:z", state.Checkpoint{Offset: 0, Version: "0 a b:z"}},
		{"42", state.Checkpoint{Offset: 42, Version: "42"}},
		{"7 w0", state.Checkpoint{Offset: 7, Version: "7 w0"}},
		{"junk", state.Checkpoint{Offset: -1, Version: "junk"}},
	} {
		require.Equal(t, tc.want, state.ParseCheckpoint(tc.in), "%q", tc.in)
	}
	require.Equal(t, state.Checkpoint{Offset: -1}, state.NoCheckpoint)
}

func storeSuite(t *testing.T, rdb redis.UniversalClient) {
	cluster := isCluster(rdb)
	t.Run("load a missing customer", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		got := load(t, s, "nobody", "x {y}")
		for i, id := range []string{"nobody", "x {y}"} {
			require.False(t, got[i].Found)
			require.Equal(t, state.State{Customer: scoring.Customer{ID: id}}, got[i].State)
		}
		st := []*state.State{{Customer: scoring.Customer{ID: "junk", Money: 7}}}
		ck, err := s.LoadInto(ctxFor(t), topic, 3, []string{"nobody"}, st)
		require.NoError(t, err)
		require.Equal(t, state.NoCheckpoint, ck)
		require.Equal(t, "nobody", st[0].ID)
		require.Zero(t, st[0].Money, "a missing customer's state is emptied")
		ck, err = s.ReadCheckpoint(ctxFor(t), topic, 3)
		require.NoError(t, err)
		require.Equal(t, state.NoCheckpoint, ck)
	})

	t.Run("write and load any customer id", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ids := []string{"}", "{", "{}", "a}b{c", "  spaced  ", "émoji 🎉", strings.Repeat("x", 256), "null\x00byte", "a:c:{b}"}
		var recs []state.Record
		var want []*state.State
		for i, id := range ids {
			st := customer(t, id,
				at(sale(fmt.Sprint("s", i), id, day0, int64(i+1)), int64(2*i)),
				at(sourced(complaint(fmt.Sprint("c", i), id, day0.Add(time.Hour), events.SeverityHigh, false), "crm", 5), int64(2*i+1)),
			)
			st.Published = map[string]string{"rfm": "new", scoring.ChurnKey: "low"}
			st.Seq = int64(i)
			st.Due = day0.Add(time.Duration(i) * time.Minute)
			want = append(want, st)
			recs = append(recs, record(t, s, st, true))
		}
		ck10 := wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 10, Token: "w", Records: recs}), 10, "w")
		for i, l := range load(t, s, ids...) {
			require.True(t, l.Found, "id %q", ids[i])
			require.Equal(t, *want[i], l.State, "id %q", ids[i])
		}
		states := []*state.State{{}, {}}
		ck, err := s.LoadInto(ctxFor(t), topic, 3, ids[:2], states)
		require.NoError(t, err)
		require.Equal(t, ck10, ck)
		require.Equal(t, *want[0], *states[0])

		// a value nobody can decode is an error naming the customer
		require.NoError(t, rdb.Set(ctxFor(t), s.CustomerKey("bad"), "\x02garbage", 0).Err())
		_, err = s.Load(ctxFor(t), []string{ids[0], "bad"})
		require.ErrorContains(t, err, `"bad"`)
	})

	// The fence: without a checkpoint (a restore) every customer is fenced
	// by its watermark, and so on Redis Cluster with one, after the
	// checkpoint call. On a standalone Redis a batch with a checkpoint
	// writes its customers in the checkpoint's script call, unfenced: the
	// exact checkpoint guards them (Store.Write), so a value lands under a
	// matching checkpoint whatever watermark is stored.
	modes := []struct {
		name  string
		plain bool
	}{{"without checkpoint", true}, {"with checkpoint", false}}
	t.Run("fence", func(t *testing.T) {
		for _, mode := range modes {
			fenced := mode.plain || cluster
			t.Run(mode.name, func(t *testing.T) {
				s := newStore(t, rdb, state.Config{})
				w := newWriter(s, "f")
				w.plain = mode.plain
				for _, tc := range []struct {
					name   string
					off    int64
					strict bool
					lands  bool
				}{
					{"lower, strict", 9, true, false},
					{"lower, not strict", 9, false, false},
					{"equal, strict", 10, true, false},
					{"equal, not strict", 10, false, true},
					{"higher, strict", 11, true, true},
					{"higher, not strict", 11, false, true},
					{"none, not strict", -1, false, false},
				} {
					t.Run(tc.name, func(t *testing.T) {
						id := "fence " + tc.name
						st := &state.State{Customer: scoring.Customer{ID: id, Money: 1},
							Watermarks: []state.Watermark{{Partition: state.PartitionOf("elsewhere", 0), Offset: 99}, {Partition: in3, Offset: 10}}}
						require.Empty(t, write(t, s, &state.Batch{Records: []state.Record{record(t, s, st, true)}}).Fenced)
						st.Money = 2
						st.Watermarks = nil
						if tc.off >= 0 {
							st.Watermarks = []state.Watermark{{Partition: in3, Offset: tc.off}}
						}
						res := w.records(t, record(t, s, st, tc.strict))
						got := load(t, s, id)[0]
						if tc.lands || !fenced {
							require.Empty(t, res.Fenced)
							require.Equal(t, int64(2), got.State.Money, "the value lands")
							require.Equal(t, st.Watermarks, got.State.Watermarks)
						} else {
							require.Equal(t, []string{id}, res.Fenced)
							require.Equal(t, int64(1), got.State.Money, "the value is fenced")
							require.Equal(t, int64(10), offsetOf(&got.State, in3))
						}
					})
				}

				t.Run("one fenced customer does not stop the others", func(t *testing.T) {
					mk := func(id string, money, off int64) *state.State {
						return &state.State{Customer: scoring.Customer{ID: id, Money: money}, Watermarks: []state.Watermark{{Partition: in3, Offset: off}}}
					}
					a, b, d := mk("mixed a", 0, 20), mk("mixed b", 0, 20), mk("mixed d", 0, 20)
					w.records(t, record(t, s, a, true), record(t, s, b, true), record(t, s, d, true))
					a.Money, b.Money, d.Money = 5, 6, 8
					a.Watermarks[0].Offset = 19 // an older owner's view
					b.Watermarks[0].Offset = 25
					c := mk("mixed c", 7, 25)
					res := w.records(t, record(t, s, b, true), state.Record{CustomerID: "no value"},
						record(t, s, a, true), record(t, s, c, true), record(t, s, d, true))
					got := load(t, s, "mixed a", "mixed b", "mixed c", "mixed d", "no value")
					money := []int64{got[0].State.Money, got[1].State.Money, got[2].State.Money, got[3].State.Money, got[4].State.Money}
					if fenced {
						require.Equal(t, []string{"mixed a", "mixed d"}, res.Fenced, "named by their records, past one without a value")
						require.Equal(t, []int64{0, 6, 7, 0, 0}, money)
					} else {
						require.Empty(t, res.Fenced)
						require.Equal(t, []int64{5, 6, 7, 8, 0}, money, "the checkpoint guards the customers")
						require.Equal(t, int64(19), offsetOf(&got[0].State, in3))
					}
					require.False(t, got[4].Found, "a record without a value writes no customer")
				})
			})
		}

		t.Run("no watermark of the partition stored", func(t *testing.T) {
			s := newStore(t, rdb, state.Config{})
			id := "other partition"
			st := &state.State{Customer: scoring.Customer{ID: id, Money: 1}, Watermarks: []state.Watermark{{Partition: state.PartitionOf(topic, 4), Offset: 50}}}
			require.Empty(t, write(t, s, &state.Batch{Topic: topic, Partition: 4, Records: []state.Record{{CustomerID: id, Value: record(t, s, st, true).Value, Offset: 50, Strict: true}}}).Fenced)
			st.Watermarks = append(st.Watermarks, state.Watermark{Partition: in3, Offset: 0})
			st.Money = 3
			require.Empty(t, write(t, s, &state.Batch{Records: []state.Record{record(t, s, st, true)}}).Fenced)
			require.Equal(t, int64(3), load(t, s, id)[0].State.Money)
		})
	})

	t.Run("checkpoint", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ck := func() state.Checkpoint {
			v, err := s.ReadCheckpoint(ctxFor(t), topic, 3)
			require.NoError(t, err)
			return v
		}
		cust := func(off int64) state.Record {
			st := &state.State{Customer: scoring.Customer{ID: "ck", Money: off}, Watermarks: []state.Watermark{{Partition: in3, Offset: off}}}
			return record(t, s, st, true)
		}
		batch := func(expect state.Checkpoint, next int64, token string, recs ...state.Record) *state.Batch {
			return &state.Batch{Checkpoint: true, Expect: expect, Next: next, Token: token, Records: recs}
		}
		c1 := wrote(t, write(t, s, batch(state.NoCheckpoint, 100, "w1", cust(99))), 100, "w1")
		require.Equal(t, c1, ck())
		c2 := wrote(t, write(t, s, batch(c1, 200, "w1", cust(199))), 200, "w1")
		require.Equal(t, c2, ck())
		// a sweep keeps the offset and stores a version of its own
		c3 := wrote(t, write(t, s, batch(c2, 200, "w1")), 200, "w1")
		require.NotEqual(t, c2.Version, c3.Version)
		require.Equal(t, c3, ck())

		// a new owner read c3 and sweeps: the same offset, its version
		c4 := wrote(t, write(t, s, batch(c3, 200, "w2")), 200, "w2")
		require.NotEqual(t, c3.Version, c4.Version)

		// only the exact version stored lets a write land: whatever the
		// offsets, a writer that expects another is Ahead
		for _, tc := range []struct {
			name   string
			expect state.Checkpoint
			next   int64
		}{
			{"its own last write, at the stored offset", c3, 300},
			{"its own sweep after the other's", c3, 200},
			{"a version before a sweep", c2, 300},
			{"an older checkpoint", c1, 150},
			{"an older checkpoint, writing the stored offset", c1, 200},
			{"none while one is stored", state.NoCheckpoint, 200},
			{"a version nobody wrote, at the stored offset", state.ParseCheckpoint("200 w1:zz"), 300},
			{"the stored offset without a version", state.ParseCheckpoint("200"), 300},
		} {
			res := write(t, s, batch(tc.expect, tc.next, "w1", cust(tc.next-1)))
			require.Equal(t, state.WriteResult{Ahead: true, Checkpoint: c4}, res, tc.name)
		}
		require.Equal(t, c4, ck())
		require.Equal(t, int64(199), load(t, s, "ck")[0].State.Money, "nothing of a refused batch is written")

		// other partitions have their own
		wrote(t, write(t, s, &state.Batch{Topic: topic, Partition: 4, Checkpoint: true, Expect: state.NoCheckpoint, Next: 7, Token: "w1"}), 7, "w1")
		states := []*state.State{{}}
		got, err := s.LoadInto(ctxFor(t), topic, 3, []string{"ck"}, states)
		require.NoError(t, err)
		require.Equal(t, c4, got)
		require.Equal(t, int64(199), states[0].Money)

		// the owner goes on from what it read
		c5 := wrote(t, write(t, s, batch(c4, 300, "w2", cust(299))), 300, "w2")
		require.Equal(t, c5, ck())
		require.Equal(t, int64(299), load(t, s, "ck")[0].State.Money)
	})

	t.Run("repeated write", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ctx := ctxFor(t)
		ids := []string{"rep a", "rep b"}
		ca := scoring.Contrib{Active: true, Recency: 20577, Frequency: 1, Monetary: 4, Tenure: 20577}
		rec := func(id string, off int64, money int64) state.Record {
			st := &state.State{Customer: scoring.Customer{ID: id, Money: money}, Watermarks: []state.Watermark{{Partition: in3, Offset: off}}}
			r := record(t, s, st, true)
			r.Contrib, r.Moves = ca, []state.Move{{Segmentation: "rfm", To: "new"}}
			r.Due, r.DueChanged = day0.Add(time.Hour), true
			r.Outbox = state.EncodeMessages(nil, []state.Message{{Topic: "seg", Value: []byte(id)}})
			return r
		}
		b := &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 5, Token: "w1", Records: []state.Record{rec(ids[0], 4, 10), rec(ids[1], 4, 20)}}
		first := wrote(t, write(t, s, b), 5, "w1")
		before := readStored(t, rdb, s, ids...)
		require.Equal(t, map[string]string{"r20577": "2", "f1": "2", "m4": "2", "t20577": "2"}, before.Population)
		require.Equal(t, map[string]string{"rfm:new": "2"}, before.Segments)

		// the same batch again (its reply was lost): recognized, written
		// once
		require.Equal(t, state.WriteResult{Repeated: true, Checkpoint: first}, write(t, s, b))
		require.Equal(t, before, readStored(t, rdb, s, ids...), "a repeated write writes nothing twice")

		// a new batch with the same fields is another write
		same := &state.Batch{Checkpoint: true, Expect: b.Expect, Next: b.Next, Token: b.Token, Records: b.Records}
		require.Equal(t, state.WriteResult{Ahead: true, Checkpoint: first}, write(t, s, same))
		require.Equal(t, before, readStored(t, rdb, s, ids...))

		// once the writer wrote on, the old batch is Ahead
		b2 := &state.Batch{Checkpoint: true, Expect: first, Next: 6, Token: "w1", Records: []state.Record{rec(ids[0], 5, 11), rec(ids[1], 5, 21)}}
		for i := range b2.Records {
			b2.Records[i].PrevContrib, b2.Records[i].Moves, b2.Records[i].DueChanged, b2.Records[i].Outbox = ca, nil, false, nil
		}
		second := wrote(t, write(t, s, b2), 6, "w1")
		after := readStored(t, rdb, s, ids...)
		require.Equal(t, state.WriteResult{Ahead: true, Checkpoint: second}, write(t, s, b))
		require.Equal(t, after, readStored(t, rdb, s, ids...))

		// the customers of a repeated write that did not land (Redis
		// Cluster: their round trip came after the checkpoint's) are
		// written by the retry, fenced; on a standalone Redis the batch is
		// one script call and a repeat writes nothing
		require.NoError(t, rdb.Del(ctx, s.CustomerKey(ids[1])).Err())
		require.Equal(t, state.WriteResult{Repeated: true, Checkpoint: second}, write(t, s, b2))
		got := load(t, s, ids...)
		require.Equal(t, int64(11), got[0].State.Money)
		if cluster {
			require.True(t, got[1].Found)
			require.Equal(t, int64(21), got[1].State.Money)
			require.Equal(t, after, readStored(t, rdb, s, ids...))
		} else {
			require.False(t, got[1].Found)
		}
	})

	// A refused batch writes nothing: not its customers, outbox entries,
	// population and segment counts or due times.
	t.Run("refused writes write nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			// lose changes the stored checkpoint after the first batch;
			// what it leaves is returned
			lose  func(t *testing.T, s *state.Store, c state.Checkpoint) state.Checkpoint
			lost  bool
			ahead bool
		}{
			{"checkpoint deleted: lost", func(t *testing.T, s *state.Store, _ state.Checkpoint) state.Checkpoint {
				require.NoError(t, rdb.Del(ctxFor(t), s.CheckpointKey(topic, 3)).Err())
				return state.NoCheckpoint
			}, true, false},
			{"checkpoint below the expected one: lost", func(t *testing.T, s *state.Store, _ state.Checkpoint) state.Checkpoint {
				// as a release before versions stored it
				require.NoError(t, rdb.Set(ctxFor(t), s.CheckpointKey(topic, 3), "5 w0", 0).Err())
				return state.ParseCheckpoint("5 w0")
			}, true, false},
			{"another writer at the same offset: ahead", func(t *testing.T, s *state.Store, c state.Checkpoint) state.Checkpoint {
				return wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: c, Next: c.Offset, Token: "w2"}), c.Offset, "w2")
			}, false, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t, rdb, state.Config{})
				ids := []string{"ref a", "ref b"}
				ca := scoring.Contrib{Active: true, Recency: 20577, Frequency: 1, Monetary: 4, Tenure: 20577}
				cb := ca
				cb.Frequency = 2
				box := state.EncodeMessages(nil, []state.Message{{Topic: "seg", Value: []byte("x")}})
				a := &state.State{Customer: scoring.Customer{ID: ids[0], Money: 1}, Watermarks: []state.Watermark{{Partition: in3, Offset: 9}}}
				ra := record(t, s, a, true)
				ra.Contrib, ra.Moves, ra.Due, ra.DueChanged, ra.Outbox = ca, []state.Move{{Segmentation: "rfm", To: "new"}}, day0, true, box
				c := wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 10, Token: "w1", Records: []state.Record{ra}}), 10, "w1")

				left := tc.lose(t, s, c)
				before := readStored(t, rdb, s, ids...)
				a.Money, a.Watermarks[0].Offset = 2, 15
				ra = record(t, s, a, true)
				ra.PrevContrib, ra.Contrib, ra.Moves, ra.DueChanged = ca, cb, []state.Move{{Segmentation: "rfm", From: "new", To: "loyal"}}, true
				b := &state.State{Customer: scoring.Customer{ID: ids[1], Money: 3}, Watermarks: []state.Watermark{{Partition: in3, Offset: 12}}}
				rb := record(t, s, b, true)
				rb.Contrib, rb.Moves, rb.Due, rb.DueChanged, rb.Outbox = ca, []state.Move{{Segmentation: "rfm", To: "new"}}, day0, true, box
				refused := &state.Batch{Checkpoint: true, Expect: c, Next: 20, Token: "w1", Records: []state.Record{ra, rb}, Published: []string{ids[0]}}
				res := write(t, s, refused)
				require.Equal(t, state.WriteResult{Lost: tc.lost, Ahead: tc.ahead, Checkpoint: left}, res)
				require.Equal(t, before, readStored(t, rdb, s, ids...), "nothing of a refused batch is written")
				require.False(t, load(t, s, ids[1])[0].Found)

				// and a writer that expects what is stored goes on
				resumed := &state.Batch{Checkpoint: true, Expect: left, Next: 20, Token: "w3", Records: refused.Records, Published: refused.Published}
				wrote(t, write(t, s, resumed), 20, "w3")
				got := load(t, s, ids...)
				require.Equal(t, []int64{2, 3}, []int64{got[0].State.Money, got[1].State.Money})
			})
		}
	})

	t.Run("outbox, populations, segments and due index", func(t *testing.T) {
		for _, mode := range modes {
			t.Run(mode.name, func(t *testing.T) {
				s := newStore(t, rdb, state.Config{})
				w := newWriter(s, "o")
				w.plain = mode.plain
				ctx := ctxFor(t)
				msgs := []state.Message{{Topic: "seg", Value: []byte(`{"to":"new"}`)}, {Topic: "churn", Value: []byte{0, 1, 2}}}
				enc := state.EncodeMessages(nil, msgs)
				a := customer(t, "due-a", at(sale("d1", "", day0, 1), 1))
				b := customer(t, "due-b", at(sale("d2", "", day0, 1), 2))
				ca := scoring.Contrib{Active: true, Recency: 20577, Frequency: 1, Monetary: -3, Tenure: 20577}
				ra, rb := record(t, s, a, true), record(t, s, b, true)
				ra.Due, ra.DueChanged, ra.Outbox, ra.Contrib = day0.Add(time.Hour), true, enc, ca
				ra.Moves = []state.Move{{Segmentation: "rfm", To: "new"}, {Segmentation: scoring.ChurnKey, To: "low"}}
				rb.Due, rb.DueChanged, rb.Outbox, rb.Contrib = day0.Add(3*time.Hour), true, enc[:0], ca
				rb.Moves = []state.Move{{Segmentation: "rfm", To: "new"}}
				require.Empty(t, w.records(t, ra, rb).Fenced)

				due, err := s.Due(ctx, topic, 3, day0.Add(2*time.Hour), 10)
				require.NoError(t, err)
				require.Equal(t, []string{"due-a"}, due)
				n, err := s.DueBacklog(ctx, topic, 3, day0.Add(4*time.Hour))
				require.NoError(t, err)
				require.Equal(t, int64(2), n)
				box, err := s.Outbox(ctx, topic, 3)
				require.NoError(t, err)
				require.Equal(t, map[string][]state.Message{"due-a": msgs}, box)
				pops, err := s.ReadPopulations(ctx, map[string][]int{topic: {3}}, day0)
				require.NoError(t, err)
				require.Equal(t, map[string]map[string]int64{"rfm": {"new": 2}, scoring.ChurnKey: {"low": 1}}, pops.Segments)
				require.Equal(t, int64(2), pops.Population.Active())
				hist, err := rdb.HGetAll(ctx, s.PopulationKey(topic, 3)).Result()
				require.NoError(t, err)
				require.Equal(t, map[string]string{"r20577": "2", "f1": "2", "m-3": "2", "t20577": "2"}, hist)

				// the next batch moves due-a, clears its published outbox
				// entry and takes it off the due index
				cb := ca
				cb.Frequency = 2
				ra = state.Record{CustomerID: "due-a", DueChanged: true, PrevContrib: ca, Contrib: cb,
					Moves: []state.Move{{Segmentation: "rfm", From: "new", To: "loyal"}}}
				rc := state.Record{CustomerID: "due-c", Outbox: enc}
				require.Empty(t, w.write(t, &state.Batch{Records: []state.Record{ra, rc}, Published: []string{"due-a"}}).Fenced)
				due, err = s.Due(ctx, topic, 3, day0.Add(2*time.Hour), 10)
				require.NoError(t, err)
				require.Empty(t, due, "a zero due time removes the customer from the index")
				box, err = s.Outbox(ctx, topic, 3)
				require.NoError(t, err)
				require.Equal(t, map[string][]state.Message{"due-c": msgs}, box)
				pops, err = s.ReadPopulations(ctx, map[string][]int{topic: {3, 4}}, day0)
				require.NoError(t, err)
				require.Equal(t, map[string]map[string]int64{"rfm": {"new": 1, "loyal": 1}, scoring.ChurnKey: {"low": 1}}, pops.Segments)
				hist, err = rdb.HGetAll(ctx, s.PopulationKey(topic, 3)).Result()
				require.NoError(t, err)
				require.Equal(t, map[string]string{"r20577": "2", "f1": "1", "f2": "1", "m-3": "2", "t20577": "2"}, hist)
				require.NoError(t, s.ClearOutbox(ctx, topic, 3, []string{"due-c"}))
				box, err = s.Outbox(ctx, topic, 3)
				require.NoError(t, err)
				require.Empty(t, box)
				require.False(t, load(t, s, "due-c")[0].Found, "a record without a value writes no customer")
				ck, err := s.ReadCheckpoint(ctx, topic, 3)
				require.NoError(t, err)
				if mode.plain {
					require.Equal(t, state.NoCheckpoint, ck, "a write without a checkpoint does not store one")
				} else {
					require.Equal(t, w.at, ck)
				}
			})
		}
	})

	t.Run("release-1 hash", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ctx := ctxFor(t)
		id := "old {timer}"
		key := s.CustomerKey(id)
		le := day0.Add(5 * 24 * time.Hour)
		wk := day0.Unix()/86400/7*7 - 7 // a week's first day, a week before day0's
		ids := binary.BigEndian.AppendUint64(nil, xxhash.Sum64String("evt-1"))
		ids = binary.BigEndian.AppendUint64(ids, xxhash.Sum64String("evt-2"))
		require.NoError(t, rdb.HSet(ctx, key,
			"fs", day0.Add(-30*24*time.Hour).Unix(), "le", le.Unix(),
			"fp", day0.Add(-7*24*time.Hour).Unix(), "lp", day0.Unix(),
			"n", 3, "pd", 2, "m", -250, "mg", 40, "rf", 1, "rm", 900,
			strconv.FormatInt(wk, 10), "1:-900:-100", strconv.FormatInt(wk+7, 10), "2:650",
			"b"+strconv.FormatInt(wk+7, 10), 1, "v"+strconv.FormatInt(wk+7, 10), 5, "g"+strconv.FormatInt(wk+7, 10), 3, // unpacked, same week
			"ct", 4, "c1", 1, "c3", 2, "lc", day0.Add(time.Hour).Unix(), "lk", le.Unix(),
			"k", 9, "kc", 3, "kr", 2,
			state.WatermarkField(topic, 3), 41, state.WatermarkField("other:topic", 12), 7,
			"ids", string(ids), state.SourceField("history"), 1234,
			"p:rfm", "at risk", "p:"+scoring.ChurnKey, "medium",
			"", "an empty field name is ignored", "zz", "unknown fields too",
			"seq", 6, "sc", "5314", "cb", scoring.Contrib{Active: true, Recency: 20577, Frequency: 3, Monetary: 12, Tenure: 20547}.String(),
		).Err())
		want := state.State{
			Customer: scoring.Customer{
				ID: id, FirstSeen: day0.Add(-30 * 24 * time.Hour), LastEvent: le,
				FirstPurchase: day0.Add(-7 * 24 * time.Hour), LastPurchase: day0,
				Purchases: 3, PurchaseDays: 2, Money: -250, Margin: 40, Refunds: 1, RefundMoney: 900,
				Window:     []scoring.Bucket{{Day: wk, Count: 1, Money: -900, Margin: -100}, {Day: wk + 7, Count: 3, Money: 655, Margin: 3}},
				Complaints: 4, OpenBySeverity: [5]int64{0, 1, 0, 2, 0}, LastComplaint: day0.Add(time.Hour),
				Contacts: 9, ContactsSinceLastPurchase: 3, Responses: 2, LastContact: le,
				Published: map[string]string{"rfm": "at risk", scoring.ChurnKey: "medium"},
				Scores:    [4]int8{5, 3, 1, 4}, Seq: 6,
				Contrib: scoring.Contrib{Active: true, Recency: 20577, Frequency: 3, Monetary: 12, Tenure: 20547},
			},
			Recent:  []state.RecentID{{Hash: xxhash.Sum64String("evt-1"), Time: le.Unix()}, {Hash: xxhash.Sum64String("evt-2"), Time: le.Unix()}},
			Sources: []state.SourceSeq{{Source: "history", Seq: 1234}},
		}
		got := load(t, s, id)[0]
		require.True(t, got.Found)
		require.ElementsMatch(t, []state.Watermark{{Partition: in3, Offset: 41}, {Partition: state.PartitionOf("other:topic", 12), Offset: 7}}, got.State.Watermarks)
		want.Watermarks = got.State.Watermarks
		require.Equal(t, want, got.State)

		// every customer, binary or not, is listed
		fresh := customer(t, "new one", at(sale("n1", "", day0, 5), 1))
		write(t, s, &state.Batch{Records: []state.Record{record(t, s, fresh, true)}})
		listed := map[string]int64{}
		require.NoError(t, s.EachCustomer(ctx, func(c *scoring.Customer) error {
			listed[c.ID] = c.Money
			return nil
		}))
		require.Equal(t, map[string]int64{id: -250, "new one": 5}, listed)
		mixed := []*state.State{{}, {}, {}}
		_, err := s.LoadInto(ctx, topic, 3, []string{"new one", id, "nobody"}, mixed)
		require.NoError(t, err)
		require.Equal(t, *fresh, *mixed[0])
		require.Equal(t, want, *mixed[1])
		require.Equal(t, "nobody", mixed[2].ID)
		require.True(t, mixed[2].Empty())

		// the ids remembered by release 1 still catch duplicates
		st := got.State
		require.NoError(t, run(t, &st, rules(),
			at(sale("evt-2", id, day0, 1), 42).is(state.Duplicate),
			at(sourced(sale("h", id, day0, 1), "history", 1000), 43).is(state.Duplicate),
			at(sale("evt-3", id, le, 100), 44),
		))

		// a write from behind the hash's watermark is fenced, and the hash
		// stays
		old := clone(&st)
		for i := range old.Watermarks {
			if old.Watermarks[i].Partition == in3 {
				old.Watermarks[i].Offset = 41
			}
		}
		res := write(t, s, &state.Batch{Records: []state.Record{record(t, s, &old, true)}})
		require.Equal(t, []string{id}, res.Fenced)
		typ, err := rdb.Type(ctx, key).Result()
		require.NoError(t, err)
		require.Equal(t, "hash", typ)

		// a newer write replaces it with a binary value
		res = write(t, s, &state.Batch{Records: []state.Record{record(t, s, &st, true)}})
		require.Empty(t, res.Fenced)
		typ, err = rdb.Type(ctx, key).Result()
		require.NoError(t, err)
		require.Equal(t, "string", typ)
		raw, err := rdb.Get(ctx, key).Bytes()
		require.NoError(t, err)
		require.Equal(t, byte(state.Version), raw[0])
		again := load(t, s, id)[0]
		require.True(t, again.Found)
		require.Equal(t, clone(&st), again.State)
		require.Equal(t, int64(-150), again.State.Money)
	})

	t.Run("release-1 buckets leave the window", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		r := rules()
		r.WindowDays = 28
		id := "legacy buckets"
		wk := day0.Unix() / 86400 / 7 * 7
		require.NoError(t, rdb.HSet(ctxFor(t), s.CustomerKey(id), "fs", day0.Unix(), "le", day0.Unix(), "lp", day0.Unix(), "fp", day0.Unix(),
			"n", 4, "pd", 1, "m", 870, state.WatermarkField(topic, 3), 1,
			strconv.FormatInt(wk, 10), "1:500", "b"+strconv.FormatInt(wk, 10), 2, "v"+strconv.FormatInt(wk, 10), 300, "g"+strconv.FormatInt(wk, 10), 40,
			"b"+strconv.FormatInt(wk-7, 10), 1, "v"+strconv.FormatInt(wk-7, 10), 70).Err())
		st := load(t, s, id)[0].State
		require.Equal(t, []scoring.Bucket{{Day: wk - 7, Count: 1, Money: 70}, {Day: wk, Count: 3, Money: 800, Margin: 40}}, st.Window)
		require.NoError(t, run(t, &st, r, at(sale("c", id, day0.Add(40*24*time.Hour), 9), 2)))
		require.Equal(t, []scoring.Bucket{{Day: (day0.Unix()/86400 + 40) / 7 * 7, Count: 1, Money: 9}}, st.Window)
		write(t, s, &state.Batch{Records: []state.Record{record(t, s, &st, true)}})
		require.Equal(t, st.Window, load(t, s, id)[0].State.Window)
	})

	t.Run("restore published", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ctx := ctxFor(t)
		st := customer(t, "restored", at(sale("r1", "", day0, 77), 5))
		st.Published, st.Seq = map[string]string{"rfm": "new"}, 1
		c := wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 6, Token: "w", Records: []state.Record{record(t, s, st, true)}}), 6, "w")

		ok, err := s.RestorePublished(ctx, topic, 3, "restored", map[string]string{"rfm": "loyal", scoring.ChurnKey: "low"}, 3)
		require.NoError(t, err)
		require.True(t, ok)
		got := load(t, s, "restored")[0].State
		want := clone(st)
		want.Published, want.Seq = map[string]string{"rfm": "loyal", scoring.ChurnKey: "low"}, 3
		require.Equal(t, want, got)
		ck, err := s.ReadCheckpoint(ctx, topic, 3)
		require.NoError(t, err)
		require.Equal(t, c, ck, "a restore does not move the checkpoint")

		for _, tc := range []struct {
			name string
			id   string
			seq  int64
		}{{"the record landed", "restored", 3}, {"an older record", "restored", 2}, {"no sequence", "restored", 0}, {"no customer", "nobody", 5}} {
			ok, err := s.RestorePublished(ctx, topic, 3, tc.id, map[string]string{"rfm": "lost"}, tc.seq)
			require.NoError(t, err, tc.name)
			require.False(t, ok, tc.name)
		}
		require.Equal(t, want, load(t, s, "restored")[0].State)
		require.False(t, load(t, s, "nobody")[0].Found, "restoring does not create a customer")

		// over a release-1 hash
		require.NoError(t, rdb.HSet(ctx, s.CustomerKey("old"), "fs", day0.Unix(), "le", day0.Unix(), "seq", 1, "p:rfm", "new", state.WatermarkField(topic, 3), 9).Err())
		ok, err = s.RestorePublished(ctx, topic, 3, "old", map[string]string{"rfm": "loyal"}, 2)
		require.NoError(t, err)
		require.True(t, ok)
		got = load(t, s, "old")[0].State
		require.Equal(t, map[string]string{"rfm": "loyal"}, got.Published)
		require.Equal(t, int64(2), got.Seq)
		require.Equal(t, int64(9), offsetOf(&got, in3))
	})

	t.Run("names", func(t *testing.T) {
		a := newStore(t, rdb, state.Config{})
		b := newStore(t, rdb, state.Config{Prefix: a.Config().Prefix})
		// b knows the names before a adds some
		require.False(t, load(t, b, "x")[0].Found)

		x := customer(t, "x", at(sourced(sale("1", "", day0, 1), "importer", 1), 1))
		x.Published = map[string]string{"rfm": "brand new segment"}
		write(t, a, &state.Batch{Records: []state.Record{record(t, a, x, true)}})
		got := load(t, b, "x")[0]
		require.True(t, got.Found)
		require.Equal(t, *x, got.State)

		y := customer(t, "y", at(sale("2", "", day0, 1), 1))
		y.Published = map[string]string{"lifecycle": "another new one"}
		write(t, b, &state.Batch{Records: []state.Record{record(t, b, y, true)}})
		require.Equal(t, *y, load(t, a, "y")[0].State)

		// both number every name the same way
		z := &state.State{Customer: scoring.Customer{ID: "z", Published: map[string]string{"lifecycle": "brand new segment"}},
			Sources: []state.SourceSeq{{Source: "importer", Seq: 2}}}
		va, err := a.AppendValue(ctxFor(t), nil, z)
		require.NoError(t, err)
		vb, err := b.AppendValue(ctxFor(t), nil, z)
		require.NoError(t, err)
		require.Equal(t, va, vb)
		numbers, err := rdb.HGetAll(ctxFor(t), a.NamesKey()).Result()
		require.NoError(t, err)
		require.Len(t, numbers, 6, "# and five names: %v", numbers)
		require.Equal(t, "5", numbers["#"])
		seen := map[string]bool{}
		for name, v := range numbers {
			if name == "#" {
				continue
			}
			require.False(t, seen[v], "a number given twice: %v", numbers)
			seen[v] = true
		}
	})

	t.Run("script reloaded after a flush", func(t *testing.T) {
		s := newStore(t, rdb, state.Config{})
		ctx := ctxFor(t)
		st := customer(t, "flush", at(sale("x1", "", day0, 1), 1))
		c := wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 2, Token: "w", Records: []state.Record{record(t, s, st, true)}}), 2, "w")
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.ScriptFlush(ctx).Err() }))
		} else {
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
		}
		require.NoError(t, run(t, st, rules(), at(sale("x2", "flush", day0, 1), 2)))
		wrote(t, write(t, s, &state.Batch{Checkpoint: true, Expect: c, Next: 3, Token: "w", Records: []state.Record{record(t, s, st, true)}}), 3, "w")
		require.Equal(t, int64(2), load(t, s, "flush")[0].State.Money)
	})
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  state.Config
		want string
	}{
		{state.Config{Prefix: "a{b"}, "redis.prefix"},
		{state.Config{Prefix: "a*"}, "redis.prefix"},
		{state.Config{DedupeWindow: time.Millisecond}, "dedupe.window"},
		{state.Config{DedupeMaxIDs: 100001}, "dedupe.max_ids"},
		{state.Config{DedupeMaxIDs: -1}, "dedupe.max_ids"},
		{state.Config{BucketDays: -1}, "bucket_days"},
		{state.Config{BucketDays: 30, WindowDays: 7}, "window_days"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.ErrorContains(t, tc.cfg.Validate(), tc.want)
		})
	}
	var cfg state.Config
	require.NoError(t, cfg.Validate())
	require.Equal(t, state.Config{Prefix: "clt", DedupeWindow: 7 * 24 * time.Hour, DedupeMaxIDs: 64, BucketDays: 7, WindowDays: 365}, cfg)
	s, err := state.New(nil, state.Config{BucketDays: 3, WindowDays: 30, DedupeMaxIDs: 9})
	require.NoError(t, err)
	require.Equal(t, &state.Rules{BucketDays: 3, WindowDays: 30, DedupeWindow: 7 * 24 * time.Hour, MaxRecent: 9}, s.Rules())
}

func TestMessagesCodec(t *testing.T) {
	msgs := []state.Message{{Topic: "seg", Value: []byte(`{"to":"new"}`)}, {Topic: "churn", Value: []byte{0, 1, 2}}, {Topic: "", Value: []byte{}}}
	enc := state.EncodeMessages(nil, msgs)
	dec, err := state.DecodeMessages(enc)
	require.NoError(t, err)
	require.Equal(t, msgs, dec)
	// enc holds the messages at 0, 17 and 27; a cut elsewhere is an error
	for _, n := range []int{1, 4, 16, 18, 26, 28} {
		_, err = state.DecodeMessages(enc[:n])
		require.Error(t, err, "truncated to %d", n)
	}
	dec, err = state.DecodeMessages(enc[:17])
	require.NoError(t, err)
	require.Equal(t, msgs[:1], dec)
	dec, err = state.DecodeMessages(nil)
	require.NoError(t, err)
	require.Empty(t, dec)
}

// Another writer that moves the checkpoint between a standalone write's
// read of it and its transaction makes the transaction fail whole (WATCH):
// nothing of the batch lands, and the result says Ahead.
func TestWriteRaceWithAnotherWriter(t *testing.T) {
	if testenv.ClusterMode() {
		t.Skip("the transaction is the standalone write")
	}
	rdb := testenv.RedisClient(t)
	s := newStore(t, rdb, state.Config{})
	st := state.State{}
	st.ID, st.FirstSeen, st.Money = "raced", day0, 100
	first := write(t, s, &state.Batch{Checkpoint: true, Expect: state.NoCheckpoint, Next: 5, Token: "a", Records: []state.Record{record(t, s, &st, true)}})

	other := newStore(t, rdb, state.Config{Prefix: s.Config().Prefix})
	var moved state.WriteResult
	state.SetTestHookBeforeExec(func() {
		state.SetTestHookBeforeExec(nil) // the other writer's own write runs no hook
		moved = write(t, other, &state.Batch{Checkpoint: true, Expect: first.Checkpoint, Next: 6, Token: "b"})
	})
	t.Cleanup(func() { state.SetTestHookBeforeExec(nil) })
	st.Money = 999
	res := write(t, s, &state.Batch{Checkpoint: true, Expect: first.Checkpoint, Next: 7, Token: "a", Records: []state.Record{record(t, s, &st, true)}})
	require.True(t, res.Ahead, "%+v", res)
	require.Equal(t, moved.Checkpoint, res.Checkpoint)
	loaded, err := s.Load(ctxFor(t), []string{"raced"})
	require.NoError(t, err)
	require.Equal(t, int64(100), loaded[0].State.Money, "nothing of the refused batch landed")
}
