package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/api"
	"github.com/clienting/clienting/api/apitest"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/testenv"
)

// apiLogWriter sends the app's log to the test log until the test ends.
type apiLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *apiLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("app: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *apiLogWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// apiCustomer is what the test produces for one customer and expects back.
type apiCustomer struct {
	id         string
	events     []map[string]any
	purchases  int64
	money      string
	refunds    int64
	complaints int64
	contacts   int64
}

// apiEvents builds the customers of TestAPI. Ids hold spaces, braces, a
// slash and non-ASCII characters on purpose.
func apiEvents(base time.Time) []apiCustomer {
	n := 0
	ev := func(cid, typ string, age time.Duration, fields ...any) map[string]any {
		n++
		e := map[string]any{"id": fmt.Sprintf("api-e-%d", n), "type": typ, "customer_id": cid,
			"time": base.Add(-age).UTC().Format(time.RFC3339)}
		for i := 0; i+1 < len(fields); i += 2 {
			e[fields[i].(string)] = fields[i+1]
		}
		switch typ {
		case "purchase":
			e["order_id"] = fmt.Sprintf("o-%d", n)
			e["currency"] = "USD"
		case "complaint":
			e["complaint_id"] = fmt.Sprintf("k-%d", n)
			e["status"] = "opened"
		case "contact":
			e["contact_id"] = fmt.Sprintf("t-%d", n)
		}
		return e
	}
	day := 24 * time.Hour
	return []apiCustomer{
		{id: "plain", purchases: 2, money: "14.75", events: []map[string]any{
			ev("plain", "purchase", 40*day, "amount", "10.50"),
			ev("plain", "purchase", 3*day, "amount", "4.25"),
		}},
		{id: "with space", purchases: 1, money: "99.99", complaints: 1, events: []map[string]any{
			ev("with space", "purchase", 200*day, "amount", "99.99"),
			ev("with space", "complaint", 2*day, "severity", "high"),
		}},
		{id: "{braces}", purchases: 3, money: "300.03", events: []map[string]any{
			ev("{braces}", "purchase", 300*day, "amount", "100.01"),
			ev("{braces}", "purchase", 100*day, "amount", "100.01"),
			ev("{braces}", "purchase", 10*day, "amount", json.Number("100.01")),
		}},
		{id: "a/b", purchases: 1, money: "20.00", refunds: 1, events: []map[string]any{
			ev("a/b", "purchase", 20*day, "amount", "25.00"),
			ev("a/b", "purchase", 19*day, "amount", "5.00", "kind", "refund"),
		}},
		{id: "ü-émoji 🎉", purchases: 1, money: "0.01", contacts: 1, events: []map[string]any{
			ev("ü-émoji 🎉", "contact", 5*day, "channel", "email", "direction", "inbound"),
			ev("ü-émoji 🎉", "purchase", 1*day, "amount", "0.01"),
		}},
	}
}

// TestAPI runs the app in-process against the real Kafka and Redis,
// produces events for customers with awkward ids, and checks every endpoint
// of the HTTP server over real HTTP, validating each response (status,
// content type, body) against the OpenAPI document.
func TestAPI(t *testing.T) {
	brokers, redisAddr := testenv.Kafka(t), testenv.Redis(t)
	name := testenv.Unique(t, "api")
	input, group := name+".events", name+"-group"
	testenv.CreateTopics(t, brokers, 4, input, input+".dlq", name+".segment-changes", name+".churn-risk", name+".recovery")

	// the clock starts at a fixed instant and advances with real time, so
	// that the KPIs (recomputed when kpi.interval has passed on this clock)
	// are computed again after the events are in
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	started := time.Now()
	clock := func() time.Time { return base.Add(time.Since(started)) }

	cfg, err := loadConfig("", nil, []string{
		"kafka.brokers=" + strings.Join(brokers, ","),
		"kafka.group_id=" + group,
		"kafka.topics.input=" + input,
		"kafka.topics.segment_changes=" + name + ".segment-changes",
		"kafka.topics.churn_risk=" + name + ".churn-risk",
		"kafka.topics.recovery=" + name + ".recovery",
		"kafka.session_timeout=6s",
		"kafka.heartbeat_interval=1s",
		"kafka.rebalance_timeout=6s",
		"redis.addrs=" + redisAddr,
		"redis.prefix=" + name,
		"model.refit=false",
		"processor.population_refresh=200ms",
		"kpi.interval=1s",
		"log.level=warn",
	})
	require.NoError(t, err)
	lw := &apiLogWriter{t: t}
	logger := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(cfg, logger, appOptions{now: clock})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a.listener = ln
	srv := "http://" + ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Error("app did not stop within 60s")
		}
		lw.stop()
	})

	v := apitest.NewValidator(t)
	customers := apiEvents(base)
	var msgs []kafka.Message
	for _, c := range customers {
		for _, e := range c.events {
			raw, err := json.Marshal(e)
			require.NoError(t, err)
			msgs = append(msgs, kafka.Message{Key: []byte(c.id), Value: raw})
		}
	}
	kafkatest.Produce(t, brokers, input, msgs)
	testenv.Wait(t, 2*time.Minute, func() bool { return kafkatest.CaughtUp(t, brokers, group, input) })

	t.Run("healthz", func(t *testing.T) {
		resp, body := v.Get(t, srv+"/healthz")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok\n", string(body))
	})

	t.Run("readyz", func(t *testing.T) {
		// the group committed every message, so partitions are assigned
		var body []byte
		testenv.Wait(t, 30*time.Second, func() bool {
			var resp *http.Response
			resp, body = v.Get(t, srv+"/readyz")
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
			return resp.StatusCode == http.StatusOK
		})
		require.Equal(t, "ready\n", string(body))
	})

	segmentations := a.engine.SegmentNames()
	t.Run("customers", func(t *testing.T) {
		for _, c := range customers {
			t.Run(c.id, func(t *testing.T) {
				resp, body := v.Get(t, srv+"/v1/customers/"+url.PathEscape(c.id))
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
				require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				var got api.Customer
				require.NoError(t, json.Unmarshal(body, &got))
				require.Equal(t, c.id, got.ID)
				st := got.State
				require.Equal(t, c.purchases, st.Purchases)
				require.Equal(t, c.money, st.Money)
				require.Equal(t, "USD", st.Currency)
				require.Equal(t, c.refunds, st.Refunds)
				require.Equal(t, c.complaints, st.Complaints)
				require.Equal(t, c.contacts, st.Contacts)
				require.Equal(t, c.purchases, got.Metrics.LifetimePurchases)
				require.NotNil(t, st.FirstSeen)
				require.NotNil(t, st.LastPurchase)
				// every segmentation has a segment now and was published;
				// the two may differ where a segment depends on the
				// population (pareto), which grew after the publish
				require.Len(t, got.Segments, len(segmentations))
				for name, seg := range got.Segments {
					require.Contains(t, segmentations[name], seg, "segmentation %s", name)
					require.Contains(t, segmentations[name], got.Published[name], "segmentation %s", name)
				}
				require.Len(t, got.Published, len(segmentations)+1)
				require.Contains(t, []string{"low", "medium", "high"}, got.Published["churn"])
				require.Positive(t, got.Sequence)
				require.NotNil(t, got.Churn.CLV)
				require.WithinDuration(t, clock(), got.EvaluatedAt, time.Minute)
				if c.complaints > 0 {
					require.Equal(t, int64(1), st.OpenComplaints["high"])
				}
			})
		}
		// an unencoded slash is part of the id too (the document has no
		// route for it: OpenAPI path parameters are one segment)
		resp, err := http.Get(srv + "/v1/customers/a/b")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Contains(t, string(body), `"id":"a/b"`)
	})

	t.Run("customer errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, id string
			status   int
			msg      string
		}{
			{"unknown", "nobody", 404, `customer "nobody" not found`},
			{"unknown special", "no/body {x} ü 🎉", 404, `customer "no/body {x} ü 🎉" not found`},
			{"too long", strings.Repeat("x", 257), 400, "customer id is 257 bytes long; at most 256 are allowed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := v.Get(t, srv+"/v1/customers/"+url.PathEscape(tc.id))
				require.Equal(t, tc.status, resp.StatusCode, "%s", body)
				require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				var e struct{ Error string }
				require.NoError(t, json.Unmarshal(body, &e))
				require.Equal(t, tc.msg, e.Error)
			})
		}
	})

	t.Run("segments", func(t *testing.T) {
		// the population read after the last publish counts every customer
		// once per segmentation and once per churn-risk level
		var got api.Segments
		testenv.Wait(t, time.Minute, func() bool {
			resp, body := v.Get(t, srv+"/v1/segments")
			if resp.StatusCode != http.StatusOK {
				return false
			}
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			got = api.Segments{}
			require.NoError(t, json.Unmarshal(body, &got))
			if sum(got.ChurnRisk) != int64(len(customers)) {
				return false
			}
			for _, counts := range got.Segmentations {
				if sum(counts) != int64(len(customers)) {
					return false
				}
			}
			return true
		})
		require.Len(t, got.Segmentations, len(segmentations))
		for name, segs := range segmentations {
			for _, s := range segs {
				require.Contains(t, got.Segmentations[name], s)
			}
		}
		require.Equal(t, int64(len(customers)), got.ActiveCustomers)
		require.WithinDuration(t, clock(), got.AsOf, time.Minute)
	})

	t.Run("kpis", func(t *testing.T) {
		var got map[string]any
		testenv.Wait(t, time.Minute, func() bool {
			resp, body := v.Get(t, srv+"/v1/kpis")
			if resp.StatusCode != http.StatusOK {
				return false
			}
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			got = nil
			require.NoError(t, json.Unmarshal(body, &got))
			return got["customers"] == float64(len(customers))
		})
		require.Equal(t, "rfm", got["segmentation"])
	})

	t.Run("openapi.yaml", func(t *testing.T) {
		resp, body := v.Get(t, srv+"/v1/openapi.yaml")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, api.OpenAPI(), body)
	})

	t.Run("metrics", func(t *testing.T) {
		resp, body := v.Get(t, srv+"/metrics")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, string(body), "clienting_events_total")
		promtoolCheck(t, body)
	})
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// promtoolCheck pipes a scrape into `promtool check metrics`. Every line it
// prints is a lint problem and fails the test, unless it is about a metric
// outside the clienting_ namespace (Go runtime and process collectors).
func promtoolCheck(t *testing.T, scrape []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if testenv.Required() {
			t.Fatalf("promtool is not installed (Debian package prometheus): %v", err)
		}
		t.Skipf("promtool is not installed (Debian package prometheus): %v", err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("promtool: %v", err)
	}
	metricLine := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*) `)
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if m := metricLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "clienting_") {
			t.Logf("promtool (not a clienting metric): %s", line)
			continue
		}
		problems = append(problems, line)
	}
	require.Empty(t, problems, "promtool check metrics found problems (exit: %v)", err)
}

// TestMetricsList compares the clienting_ metrics the app registers with
// deploy/metrics.txt, in both directions.
func TestMetricsList(t *testing.T) {
	cfg, err := loadConfig("", nil, nil)
	require.NoError(t, err)
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), appOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.rdb.Close() })

	registered := registeredMetrics(a.reg)
	raw, err := os.ReadFile("../../deploy/metrics.txt")
	require.NoError(t, err)
	var listed []string
	for line := range strings.Lines(string(raw)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			listed = append(listed, line)
		}
	}
	var missing, stale []string
	for _, n := range registered {
		if !slices.Contains(listed, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range listed {
		if !slices.Contains(registered, n) {
			stale = append(stale, n)
		}
	}
	require.Empty(t, missing, "registered but not in deploy/metrics.txt")
	require.Empty(t, stale, "in deploy/metrics.txt but not registered")
	require.True(t, slices.IsSorted(listed), "deploy/metrics.txt is not sorted")
}

// registeredMetrics returns the sorted clienting_ metric names of every
// collector registered with reg.
func registeredMetrics(reg *prometheus.Registry) []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		reg.Describe(ch)
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]*)"`)
	var names []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil || !strings.HasPrefix(m[1], "clienting_") || slices.Contains(names, m[1]) {
			continue
		}
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}
