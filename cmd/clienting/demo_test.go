package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/state"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logWriter sends a command's stderr to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var (
	demoURL     = regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/metrics`)
	appliedLine = regexp.MustCompile(`(?m)^clienting_events_total\{[^}]*outcome="applied"[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$`)
)

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestDemo runs the demo in-process, with its embedded Kafka (kfake) and
// Redis (miniredis): it needs no servers. The demo must print transitions,
// and its HTTP endpoints must answer while it runs.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demoCmd(ctx, []string{"--duration", "8s", "--customers", "300", "--speed", "high",
			"--http", "127.0.0.1:0", "--every", "1s", "--seed", "5"}, out, logWriter{t})
	}()

	var addr string
	testenv.Wait(t, 60*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("demo ended before serving HTTP: %v\n%s", err, out.String())
		default:
		}
		if m := demoURL.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	ready := false
	var applied float64
	testenv.Wait(t, 60*time.Second, func() bool {
		if !ready {
			code, _, err := httpGet("http://" + addr + "/readyz")
			ready = err == nil && code == http.StatusOK
		}
		code, body, err := httpGet("http://" + addr + "/metrics")
		if err != nil || code != http.StatusOK {
			return false
		}
		applied = 0
		for _, m := range appliedLine.FindAllStringSubmatch(body, -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			applied += v
		}
		return ready && applied > 0
	})
	t.Logf("/readyz answered 200; /metrics counts %v applied events", applied)

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("the demo did not stop after --duration")
	}
	text := out.String()
	t.Logf("demo output:\n%s", text)
	var moves int
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, " -> ") {
			moves++
		}
	}
	require.Positive(t, moves, "no transition lines")
	require.Contains(t, text, "final summary")
	require.Regexp(t, `processed [1-9]\d* \(applied [1-9]`, text)
	require.Regexp(t, `churn risk +low \d+`, text)
	require.Regexp(t, `[1-9]\d* by time`, text, "no time-driven transition")
	// the final summary reports the processor caught up with the shop
	final := text[strings.LastIndex(text, "final summary"):]
	require.Regexp(t, `behind 0\n`, final)
}

func TestSpeedFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"6d": 6 * 24 * time.Hour, "12h": 12 * time.Hour, "3600x": time.Hour, "high": 30 * 24 * time.Hour, "slow": 24 * time.Hour,
	} {
		var s speedFlag
		require.NoError(t, s.Set(in), in)
		require.Equal(t, want, time.Duration(s), in)
	}
	for _, bad := range []string{"", "0", "-1d", "x", "fastest"} {
		var s speedFlag
		require.Error(t, s.Set(bad), bad)
	}
}

// The probe's expectations hold on the real Redis too: the demo checks the
// embedded Redis against what Redis does, not against itself.
func TestProbeRedisOnRealRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t), DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := state.New(rdb, state.Config{Prefix: testenv.Unique(t, "probe")})
	require.NoError(t, err)
	require.NoError(t, probeRedis(t.Context(), st, rdb))
}
