package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/state"
)

func newRedis(addr string, poolSize int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, PoolSize: poolSize, DisableIdentity: true})
}

// applyCeiling applies the events as the processor's state layer does,
// without scoring: per partition, in order, batchSize events at a time,
// applied in Go (state.Apply) to states kept in memory, then each changed
// customer written once per batch with the partition's checkpoint
// (state.Store.Write, one round trip), all partitions concurrently. It
// returns the wall time.
func applyCeiling(ctx context.Context, rdb *redis.Client, prefix string, evs []events.Event, parts []int, partitions, batchSize int) (time.Duration, error) {
	store, err := state.New(rdb, state.Config{Prefix: prefix})
	if err != nil {
		return 0, err
	}
	byPart := make([][]state.Input, partitions)
	for i := range evs {
		p := parts[i]
		byPart[p] = append(byPart[p], state.Input{Event: &evs[i], Partition: state.PartitionOf("ceiling", p), Offset: int64(len(byPart[p]))})
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for part, batch := range byPart {
		g.Go(func() error {
			states := map[string]*state.State{}
			checkpoint := state.NoCheckpoint
			var vals []byte
			var recs []state.Record
			for len(batch) > 0 {
				n := min(len(batch), batchSize)
				touched := map[string]*state.State{}
				for i := range batch[:n] {
					in := &batch[i]
					st := states[in.Event.CustomerID]
					if st == nil {
						st = &state.State{}
						st.ID = in.Event.CustomerID
						states[st.ID] = st
					}
					if _, _, err := state.Apply(st, in, store.Rules()); err != nil {
						return err
					}
					touched[st.ID] = st
				}
				vals, recs = vals[:0], recs[:0]
				for id, st := range touched {
					start := len(vals)
					var err error
					if vals, err = store.AppendValue(gctx, vals, st); err != nil {
						return err
					}
					recs = append(recs, state.Record{CustomerID: id, Value: vals[start:len(vals):len(vals)],
						Offset: st.Watermark(batch[0].Partition), Strict: true})
				}
				next := batch[n-1].Offset + 1
				res, err := store.Write(gctx, &state.Batch{Topic: "ceiling", Partition: part, Checkpoint: true,
					Expect: checkpoint, Next: next, Records: recs, Token: "ceiling"})
				if err != nil {
					return err
				}
				if res.Lost || res.Ahead || len(res.Fenced) > 0 {
					return fmt.Errorf("ceiling write refused: %+v", res)
				}
				checkpoint = res.Checkpoint
				batch = batch[n:]
			}
			return nil
		})
	}
	err = g.Wait()
	return time.Since(start), err
}

// deletePrefix deletes every key that starts with prefix+":", with DEL
// (not UNLINK) so that INFO memory no longer counts them when it returns.
func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+":*", 5000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// countPrefix counts the keys that start with prefix+":".
func countPrefix(ctx context.Context, rdb *redis.Client, prefix string) (int, error) {
	var cursor uint64
	n := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+":*", 5000).Result()
		if err != nil {
			return n, err
		}
		n += len(keys)
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

var benchRate = regexp.MustCompile(`SET: ([0-9.]+) requests per second`)

// redisBenchmark runs redis-benchmark's pipelined SET test and returns its
// rate, or an error when the tool is missing or says nothing useful.
func redisBenchmark(ctx context.Context, addr string) (float64, error) {
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		return 0, fmt.Errorf("redis address %q is not host:port", addr)
	}
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark not found (Debian package redis-tools)")
	}
	out, err := exec.CommandContext(ctx, path, "-h", host, "-p", port, "-t", "set", "-n", "200000", "-P", "16", "-q").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, out)
	}
	// -q prints progress lines separated by \r, the result last
	m := benchRate.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no rate in %q", out)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

// info returns the fields of an INFO section.
func info(ctx context.Context, rdb *redis.Client, section string) (map[string]string, error) {
	raw, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	m, err := info(ctx, rdb, "memory")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(m["used_memory"], 10, 64)
}

// redisCPU returns the Redis server's CPU seconds (user + system).
func redisCPU(ctx context.Context, rdb *redis.Client) (float64, error) {
	m, err := info(ctx, rdb, "cpu")
	if err != nil {
		return 0, err
	}
	u, err1 := strconv.ParseFloat(m["used_cpu_user"], 64)
	s, err2 := strconv.ParseFloat(m["used_cpu_sys"], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("INFO cpu: used_cpu_user %q, used_cpu_sys %q", m["used_cpu_user"], m["used_cpu_sys"])
	}
	return u + s, nil
}

// memorySample is what MEMORY USAGE says about a sample of customer keys:
// State v2's strings, or release 1's hashes for a baseline run.
type memorySample struct {
	n, missing     int
	mean, p50, max float64
	// types counts the sampled keys by Redis type ("string", "hash").
	types map[string]int
	// valueMean is the mean STRLEN of the strings; fieldsMean the mean HLEN
	// of the hashes.
	valueMean, fieldsMean float64
}

// sampleMemory runs MEMORY USAGE and TYPE on up to n random customers'
// keys, then STRLEN on the strings and HLEN on the hashes.
func sampleMemory(ctx context.Context, rdb *redis.Client, store *state.Store, ids []string, n int) (memorySample, error) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 0, n)
	for _, i := range r.Perm(len(ids))[:min(n, len(ids))] {
		keys = append(keys, store.CustomerKey(ids[i]))
	}
	type cmds struct {
		mem *redis.IntCmd
		typ *redis.StatusCmd
		len *redis.IntCmd
	}
	cs := make([]cmds, len(keys))
	// a missing key answers nil, which the pipeline reports as its error
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cs[i] = cmds{mem: p.MemoryUsage(ctx, k, 0), typ: p.Type(ctx, k)}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return memorySample{}, fmt.Errorf("MEMORY USAGE: %w", err)
	}
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			switch cs[i].typ.Val() {
			case "string":
				cs[i].len = p.StrLen(ctx, k)
			case "hash":
				cs[i].len = p.HLen(ctx, k)
			}
		}
		return nil
	})
	if err != nil {
		return memorySample{}, fmt.Errorf("STRLEN, HLEN: %w", err)
	}
	s := memorySample{types: map[string]int{}}
	sizes := make([]float64, 0, len(cs))
	var strLen, hashLen float64
	for _, c := range cs {
		if errors.Is(c.mem.Err(), redis.Nil) || c.typ.Val() == "none" {
			s.missing++
			continue
		}
		sz := float64(c.mem.Val())
		sizes = append(sizes, sz)
		s.mean += sz
		s.max = max(s.max, sz)
		t := c.typ.Val()
		s.types[t]++
		switch t {
		case "string":
			strLen += float64(c.len.Val())
		case "hash":
			hashLen += float64(c.len.Val())
		}
	}
	s.n = len(sizes)
	if s.n > 0 {
		slices.Sort(sizes)
		s.mean /= float64(s.n)
		s.p50 = sizes[s.n/2]
	}
	if k := s.types["string"]; k > 0 {
		s.valueMean = strLen / float64(k)
	}
	if k := s.types["hash"]; k > 0 {
		s.fieldsMean = hashLen / float64(k)
	}
	return s, nil
}

// typesText says how many sampled keys had each type, e.g. "2000 string".
func (s memorySample) typesText() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(s.types)) {
		parts = append(parts, fmt.Sprintf("%d %s", s.types[t], t))
	}
	if s.missing > 0 {
		parts = append(parts, fmt.Sprintf("%d missing", s.missing))
	}
	return strings.Join(parts, ", ")
}

// commandStats reads INFO commandstats: microseconds and calls by command.
func commandStats(ctx context.Context, rdb *redis.Client) (map[string][2]float64, error) {
	m, err := info(ctx, rdb, "commandstats")
	if err != nil {
		return nil, err
	}
	out := map[string][2]float64{}
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		var calls, usec float64
		for kv := range strings.SplitSeq(v, ",") {
			key, val, _ := strings.Cut(kv, "=")
			switch key {
			case "calls":
				calls, _ = strconv.ParseFloat(val, 64)
			case "usec":
				usec, _ = strconv.ParseFloat(val, 64)
			}
		}
		out[name] = [2]float64{usec, calls}
	}
	return out, nil
}

// commandCost is one command's share of Redis time in a phase.
type commandCost struct {
	name                  string
	usecPerEvent, perCall float64
}

// topCommands returns the commands that took the most Redis time between
// two readings, per input event.
func topCommands(before, after map[string][2]float64, events float64, n int) []commandCost {
	var out []commandCost
	for name, a := range after {
		b := before[name]
		usec, calls := a[0]-b[0], a[1]-b[1]
		if calls <= 0 {
			continue
		}
		out = append(out, commandCost{name: name, usecPerEvent: usec / events, perCall: usec / calls})
	}
	slices.SortFunc(out, func(x, y commandCost) int {
		switch {
		case x.usecPerEvent > y.usecPerEvent:
			return -1
		case x.usecPerEvent < y.usecPerEvent:
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
	return out[:min(n, len(out))]
}

// redisSetup describes the server: its version and persistence, which
// weighs on its CPU per event.
func redisSetup(ctx context.Context, rdb *redis.Client) string {
	srv, err := info(ctx, rdb, "server")
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	cfg, err := rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return "Redis " + srv["redis_version"]
	}
	fsync, _ := rdb.ConfigGet(ctx, "appendfsync").Result()
	save, _ := rdb.ConfigGet(ctx, "save").Result()
	return fmt.Sprintf("Redis %s, appendonly %s (appendfsync %s), save %q", srv["redis_version"], cfg["appendonly"], fsync["appendfsync"], save["save"])
}
