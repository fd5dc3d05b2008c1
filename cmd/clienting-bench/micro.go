package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
)

// microSets select the hot path's benchmarks, package by package: decode
// and encode (events), scoring (scoring, and the model's per-customer
// functions in scoring/clv; not the refit), every benchmark of state (apply
// in Go and the value codec, whatever their names) and the processor's work
// per event without I/O (processor). A package without a matching
// benchmark adds nothing.
var microSets = []struct{ pkg, pattern string }{
	{"./events", "^Benchmark(Decode|AppendJSON)$"},
	{"./state", "^Benchmark"},
	{"./scoring", "^BenchmarkEvaluate$"},
	{"./scoring/clv", "^Benchmark(PAlive|ConditionalExpectedPurchases|CLV)$"},
	{"./processor", "^BenchmarkHotPath$"},
}

// microHidden are sub-benchmarks the table leaves out (prefix match after
// the package name): variants of the decoder that the bench's events do not
// use, and the parallel scoring run.
var microHidden = []string{
	"events Decode/v1/purchase-eur-number", "events Decode/v1/purchase-unknown-fields",
	"events Decode/cloudevents/", "scoring Evaluate/parallel/",
}

// micro is one benchmark result line.
type micro struct {
	name        string // package base name, space, benchmark without "Benchmark"
	nsPerOp     float64
	bytesPerOp  float64
	allocsPerOp float64
}

// runMicro runs the micro-benchmarks with -benchmem and parses them;
// benchmarks that need Redis use the one at redisAddr.
func runMicro(ctx context.Context, moduleDir, redisAddr string) ([]micro, error) {
	var res []micro
	for _, set := range microSets {
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", set.pattern, "-benchmem", "-benchtime", "300ms", set.pkg)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "CLIENTING_TEST_REDIS_ADDR="+redisAddr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return res, fmt.Errorf("go test -bench %s: %w: %s", set.pkg, err, out)
		}
		pkg := path.Base(set.pkg)
		for line := range strings.SplitSeq(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || !strings.HasPrefix(f[0], "Benchmark") {
				continue
			}
			m := micro{name: pkg + " " + strings.TrimPrefix(f[0], "Benchmark")}
			if !shown(m.name) {
				continue
			}
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
				}
			}
			res = append(res, m)
		}
	}
	return res, nil
}

func shown(name string) bool {
	for _, p := range microHidden {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}
