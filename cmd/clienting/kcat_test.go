package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/internal/testenv"
)

// TestKcatInterop produces an input event with kcat (librdkafka, not
// kafka-go) and reads the resulting segment change back with kcat.
func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if testenv.Required() {
			t.Fatalf("kcat not found: install the Debian package kcat (make deps does)")
		}
		t.Skip("kcat not installed")
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := newPipeline(t, now)
	bin := buildBinary(t)
	cmd := exec.Command(bin, p.args()...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = waitExit(cmd, 30*time.Second)
	}()

	customer := "kcat {customer} ü"
	event := map[string]any{
		"id": "kcat-1", "type": "purchase", "customer_id": customer,
		"time": now.Add(-time.Hour).Format(time.RFC3339), "order_id": "o-1", "amount": "42.50", "currency": "USD",
	}
	value, err := json.Marshal(event)
	require.NoError(t, err)
	produce := exec.Command(kcat, "-P", "-b", p.brokers[0], "-t", p.input(), "-K", "\t", "-X", "acks=all")
	produce.Stdin = strings.NewReader(customer + "\t" + string(value) + "\n")
	out, err := produce.CombinedOutput()
	require.NoError(t, err, "kcat produce: %s", out)

	var got map[string]any
	testenv.Wait(t, 90*time.Second, func() bool {
		consume := exec.Command(kcat, "-C", "-b", p.brokers[0], "-t", p.topic("segment-changes"),
			"-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
		out, err := consume.Output()
		if err != nil {
			return false
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			k, v, ok := bytes.Cut(line, []byte("\t"))
			if !ok || string(k) != customer {
				continue
			}
			var m map[string]any
			if json.Unmarshal(v, &m) == nil && m["segmentation"] == "rfm" {
				got = m
				return true
			}
		}
		return false
	})
	require.Equal(t, customer, got["customer_id"])
	require.Nil(t, got["from"])
	require.NotEmpty(t, got["to"])
	require.Equal(t, "event", got["cause"].(map[string]any)["kind"])
	require.Equal(t, "kcat-1", got["cause"].(map[string]any)["event_id"])
	require.NotEmpty(t, got["id"])
}
