package main

import (
	"bufio"
	"context"
	"fmt"
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

// applyCeiling applies the events with state.Store.ApplyBatch as the
// processor does: per partition, in order, batchSize events per pipelined
// round trip, all partitions concurrently. It returns the wall time.
func applyCeiling(ctx context.Context, rdb *redis.Client, prefix string, evs []events.Event, parts []int, partitions, batchSize int) (time.Duration, error) {
	store, err := state.New(rdb, state.Config{Prefix: prefix})
	if err != nil {
		return 0, err
	}
	byPart := make([][]state.Apply, partitions)
	for i := range evs {
		p := parts[i]
		byPart[p] = append(byPart[p], state.Apply{Event: &evs[i], Topic: "ceiling", Partition: p, Offset: int64(len(byPart[p]))})
	}
	// the script is loaded by the first batch's NOSCRIPT fallback; do it
	// before the clock starts
	if _, err := store.ApplyBatch(ctx, byPart[0][:1], nil); err != nil {
		return 0, err
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, batch := range byPart {
		g.Go(func() error {
			var out []state.Result
			for len(batch) > 0 {
				n := min(len(batch), batchSize)
				var err error
				if out, err = store.ApplyBatch(gctx, batch[:n], out); err != nil {
					return err
				}
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

// memorySample is what MEMORY USAGE says about a sample of customer hashes.
type memorySample struct {
	n                 int
	mean, p50, max    float64
	listpack, other   int
	fieldsMean, fldMx float64
}

// sampleMemory runs MEMORY USAGE, OBJECT ENCODING and HLEN on up to n
// random customers' hashes.
func sampleMemory(ctx context.Context, rdb *redis.Client, store *state.Store, ids []string, n int) (memorySample, error) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := make([]string, 0, n)
	for _, i := range r.Perm(len(ids))[:min(n, len(ids))] {
		pick = append(pick, ids[i])
	}
	type cmds struct {
		mem *redis.IntCmd
		enc *redis.StringCmd
		len *redis.IntCmd
	}
	cs := make([]cmds, len(pick))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range pick {
			k := store.CustomerKey(id)
			cs[i] = cmds{p.MemoryUsage(ctx, k, 0), p.ObjectEncoding(ctx, k), p.HLen(ctx, k)}
		}
		return nil
	})
	if err != nil {
		return memorySample{}, fmt.Errorf("MEMORY USAGE: %w", err)
	}
	var s memorySample
	sizes := make([]float64, 0, len(cs))
	var fields float64
	for _, c := range cs {
		sz := float64(c.mem.Val())
		sizes = append(sizes, sz)
		s.mean += sz
		s.max = max(s.max, sz)
		f := float64(c.len.Val())
		fields += f
		s.fldMx = max(s.fldMx, f)
		if c.enc.Val() == "listpack" || c.enc.Val() == "ziplist" {
			s.listpack++
		} else {
			s.other++
		}
	}
	s.n = len(sizes)
	if s.n > 0 {
		slices.Sort(sizes)
		s.mean /= float64(s.n)
		s.p50 = sizes[s.n/2]
		s.fieldsMean = fields / float64(s.n)
	}
	return s, nil
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

// listpackLimits returns the server's hash-max-listpack-entries and
// hash-max-listpack-value.
func listpackLimits(ctx context.Context, rdb *redis.Client) (string, error) {
	m, err := rdb.ConfigGet(ctx, "hash-max-listpack-*").Result()
	if err != nil {
		return "", err
	}
	return m["hash-max-listpack-entries"] + " / " + m["hash-max-listpack-value"], nil
}
