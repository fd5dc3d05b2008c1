package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/synth"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/processor"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// buildBinary compiles this command once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clienting")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// pipeline is a test's private topics, group and prefix on the real servers.
type pipeline struct {
	brokers []string
	redis   string // address(es), comma-separated
	cluster bool   // redis is a Redis Cluster (testenv.ClusterMode)
	name    string
	now     time.Time
	config  string // configuration file with the scoring the checks assume
}

func newPipeline(t *testing.T, now time.Time) *pipeline {
	p := &pipeline{brokers: testenv.Kafka(t), name: testenv.Unique(t, "x"), now: now}
	if testenv.ClusterMode() {
		p.redis, p.cluster = strings.Join(testenv.RedisCluster(t), ","), true
	} else {
		p.redis = testenv.Redis(t)
	}
	testenv.CreateTopics(t, p.brokers, 4, p.input(), p.input()+".dlq", p.topic("segment-changes"), p.topic("churn-risk"), p.topic("recovery"))
	p.config = p.configFile(t)
	return p
}

func (p *pipeline) input() string         { return p.name + ".events" }
func (p *pipeline) topic(s string) string { return p.name + "." + s }
func (p *pipeline) group() string         { return p.name + "-group" }

// configFile writes the scoring configuration the checks assume
// (synth.ScoringConfig) as a configuration file.
func (p *pipeline) configFile(t *testing.T) string {
	cfg := synth.ScoringConfig()
	raw, err := yaml.Marshal(map[string]any{"scoring": map[string]any{
		"mode": cfg.Mode, "segmentations": cfg.Segmentations}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "clienting.yaml")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

func (p *pipeline) args() []string {
	return []string{"run", "--now", p.now.Format(time.RFC3339), "--config", p.config,
		"--set", "kafka.brokers=" + strings.Join(p.brokers, ","),
		"--set", "kafka.group_id=" + p.group(),
		"--set", "kafka.topics.input=" + p.input(),
		"--set", "kafka.topics.segment_changes=" + p.topic("segment-changes"),
		"--set", "kafka.topics.churn_risk=" + p.topic("churn-risk"),
		"--set", "kafka.topics.recovery=" + p.topic("recovery"),
		"--set", "kafka.session_timeout=6s",
		"--set", "kafka.heartbeat_interval=1s",
		"--set", "kafka.rebalance_timeout=6s",
		"--set", "redis.addrs=" + p.redis,
		"--set", "redis.cluster=" + strconv.FormatBool(p.cluster),
		"--set", "redis.prefix=" + p.name,
		"--set", "processor.batch_size=200",
		"--set", "model.refit=false",
		"--set", "http.addr=127.0.0.1:0",
		"--set", "log.level=warn",
	}
}

func (p *pipeline) store(t *testing.T) *state.Store {
	s, err := state.New(testenv.RedisClient(t), state.Config{Prefix: p.name})
	require.NoError(t, err)
	return s
}

func committed(t *testing.T, p *pipeline) int64 {
	var n int64
	for _, off := range kafkatest.Committed(t, p.brokers, p.group(), p.input()) {
		if off > 0 {
			n += off
		}
	}
	return n
}

// TestCrashRecovery kills the processor process with SIGKILL several times
// mid-stream and restarts it; the final state must still be exact and no
// transition may be missing.
func TestCrashRecovery(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPipeline(t, start.Add(200*24*time.Hour))
	bin := buildBinary(t)
	s := synth.Generate(synth.Options{Seed: 7, Customers: 2000, Events: 20000, DupRate: 0.05, Bad: 50,
		Start: start, Span: 180 * 24 * time.Hour, IDPrefix: "crash-"})
	msgs := make([]kafka.Message, len(s.Messages))
	for i, m := range s.Messages {
		msgs[i] = kafka.Message{Key: []byte(m.Key), Value: m.Value}
	}
	kafkatest.Produce(t, p.brokers, p.input(), msgs)

	r := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for kills < 4 {
		before := committed(t, p)
		cmd := exec.Command(bin, p.args()...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		require.NoError(t, cmd.Start())
		// let it make some progress, then kill it at a random moment
		testenv.Wait(t, 2*time.Minute, func() bool { return committed(t, p) > before })
		time.Sleep(time.Duration(r.IntN(400)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		kills++
		t.Logf("kill %d: committed %d of %d messages", kills, committed(t, p), len(msgs))
		if committed(t, p) >= int64(len(msgs)) {
			break
		}
	}
	require.GreaterOrEqual(t, kills, 2, "the stream was too short to kill the processor mid-stream")

	// the last run finishes the stream and stops gracefully
	cmd := exec.Command(bin, p.args()...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	require.NoError(t, cmd.Start())
	testenv.Wait(t, 3*time.Minute, func() bool { return kafkatest.CaughtUp(t, p.brokers, p.group(), p.input()) })
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, waitExit(cmd, 60*time.Second))

	engine, err := scoring.NewEngine(synth.ScoringConfig())
	require.NoError(t, err)
	final := synth.CheckState(t, p.store(t), s)
	n := synth.CheckTransitions(t, engine, p.now, kafkatest.ReadAll(t, p.brokers, p.topic("segment-changes")), final)
	t.Logf("after %d kills: state exact for %d customers, %d transition chains complete", kills, len(final), n)
	// a crash after a dead-letter publish and before the commit repeats
	// that publish: count distinct source offsets
	sources := map[string]bool{}
	for _, m := range kafkatest.ReadAll(t, p.brokers, p.input()+".dlq") {
		part, _ := kafkatest.Header(m, processor.HeaderPartition)
		off, _ := kafkatest.Header(m, processor.HeaderOffset)
		sources[part+"/"+off] = true
	}
	require.Len(t, sources, s.Bad)
}

func waitExit(cmd *exec.Cmd, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return fmt.Errorf("process did not exit within %s", timeout)
	}
}
