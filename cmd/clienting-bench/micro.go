package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// microPackages and microPattern select the hot path's benchmarks: decode
// (events), score (scoring), encode (events), the store's reply decoding
// and the apply script's own time in Redis (state) and the processor's
// per-event work without I/O (processor).
var (
	microPackages = []string{"./events", "./scoring", "./state", "./processor"}
	microPattern  = `^Benchmark(Decode|Evaluate|AppendJSON|DecodeCustomer|HotPath|ApplyScript)$`
	// microShown are the sub-benchmarks the table lists (prefix match).
	microShown = []string{
		"Decode/v1/purchase-", "Decode/v1/contact-",
		"Evaluate/heuristic/population-", "Evaluate/model/population-",
		"AppendJSON/segment-change-", "AppendJSON/output-id-",
		"DecodeCustomer/", "HotPath/", "ApplyScript-",
	}
)

// micro is one benchmark result line.
type micro struct {
	name        string
	nsPerOp     float64
	bytesPerOp  float64
	allocsPerOp float64
	redisMicros float64 // Redis's time per apply script call, when reported
}

// runMicro runs the micro-benchmarks with -benchmem and parses them; the
// apply script's benchmark uses the Redis at redisAddr.
func runMicro(ctx context.Context, moduleDir, redisAddr string) ([]micro, error) {
	args := append([]string{"test", "-run", "^$", "-bench", microPattern, "-benchmem", "-benchtime", "300ms"}, microPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CLIENTING_TEST_REDIS_ADDR="+redisAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s", err, out)
	}
	var res []micro
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if !shown(name) {
			continue
		}
		m := micro{name: name}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				m.nsPerOp = v
			case "B/op":
				m.bytesPerOp = v
			case "allocs/op":
				m.allocsPerOp = v
			case "redis-µs/call":
				m.redisMicros = v
			}
		}
		res = append(res, m)
	}
	return res, nil
}

func shown(name string) bool {
	for _, p := range microShown {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
