package events_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

var (
	evTime  = time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	outTime = time.Date(2024, 5, 1, 14, 30, 1, 500_000_000, time.FixedZone("CEST", 2*3600))
)

func TestSegmentChangeJSON(t *testing.T) {
	t.Parallel()
	c := events.SegmentChange{
		ID: events.OutputID("c-42", "segment-changes", "7", "at_risk"), CustomerID: "c-42", Segmentation: "rfm",
		From: "loyal", To: "at_risk", Cause: events.Cause{Kind: events.CauseEvent, EventID: "e-1"},
		EventTime: evTime, Time: outTime, Sequence: 7, Holdout: true, ConfigVersion: "v3",
		Scores:  []events.Score{{"r", 1}, {"f", 4}, {"m", 4.5}, {"score.retention", 73.25}},
		Metrics: []events.Metric{{"recency_days", 95}, {"money", 1234.5}, {"tiny", 1e-7}},
	}
	got := string(c.AppendJSON(nil))
	want := `{"id":"75fb0eb4e996898a7b1c06d59caa5d94","customer_id":"c-42","segmentation":"rfm","from":"loyal","to":"at_risk",` +
		`"cause":{"kind":"event","event_id":"e-1"},"event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:01.5Z",` +
		`"sequence":7,"holdout":true,"config_version":"v3",` +
		`"scores":{"r":1,"f":4,"m":4.5,"score.retention":73.25},"metrics":{"recency_days":95,"money":1234.5,"tiny":1e-7}}`
	require.Equal(t, want, got)
	require.True(t, json.Valid([]byte(got)))

	// encoding/json agrees on the shape, and the event round-trips.
	m, err := json.Marshal(&c)
	require.NoError(t, err)
	require.JSONEq(t, want, string(m))
	var back events.SegmentChange
	require.NoError(t, json.Unmarshal(m, &back))
	c.Time = c.Time.UTC()
	require.Equal(t, c, back)

	// First assignment: from is null; time cause has no event_id; empty lists are {}.
	first := events.SegmentChange{ID: "x", CustomerID: "c", Segmentation: "tiers", To: "gold",
		Cause: events.Cause{Kind: events.CauseTime}, EventTime: evTime, Time: evTime}
	var shape map[string]any
	require.NoError(t, json.Unmarshal(first.AppendJSON(nil), &shape))
	require.Equal(t, map[string]any{
		"id": "x", "customer_id": "c", "segmentation": "tiers", "from": nil, "to": "gold",
		"cause": map[string]any{"kind": "time"}, "event_time": "2024-05-01T12:30:00Z", "time": "2024-05-01T12:30:00Z",
		"sequence": 0.0, "holdout": false, "config_version": "", "scores": map[string]any{}, "metrics": map[string]any{},
	}, shape)
	require.NoError(t, json.Unmarshal(first.AppendJSON(nil), &back))
	require.Equal(t, "", back.From)
	require.Equal(t, events.CauseTime, back.Cause.Kind)
}

func TestChurnRiskJSON(t *testing.T) {
	t.Parallel()
	r := events.ChurnRisk{
		ID: "id-1", CustomerID: `c "42"`, From: events.RiskLow, To: events.RiskHigh, PAlive: 0.18,
		ExpectedPurchases: 0.4, HorizonDays: 365, DaysSinceLastPurchase: 210.5,
		CLV:   events.Money{Minor: 12345, MinorUnits: 2, Currency: "USD"},
		Cause: events.Cause{Kind: events.CauseTime}, EventTime: evTime, Time: evTime.Add(2 * time.Second),
		Sequence: 8, ModelVersion: "bgnbd-2024-04-30",
	}
	want := `{"id":"id-1","customer_id":"c \"42\"","from":"low","to":"high","p_alive":0.18,"expected_purchases":0.4,` +
		`"horizon_days":365,"days_since_last_purchase":210.5,"clv":"123.45","currency":"USD","cause":{"kind":"time"},` +
		`"event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:02Z","sequence":8,"model_version":"bgnbd-2024-04-30"}`
	require.Equal(t, want, string(r.AppendJSON(nil)))
	var back events.ChurnRisk
	require.NoError(t, json.Unmarshal([]byte(want), &back))
	require.Equal(t, r, back)

	// Negative CLV, first assessment, non-finite floats.
	r2 := events.ChurnRisk{To: events.RiskMedium, PAlive: math.NaN(), ExpectedPurchases: math.Inf(1),
		CLV: events.Money{Minor: -5, MinorUnits: 2, Currency: "EUR"}}
	b := r2.AppendJSON(nil)
	require.True(t, json.Valid(b), string(b))
	var shape map[string]any
	require.NoError(t, json.Unmarshal(b, &shape))
	require.Nil(t, shape["from"])
	require.Nil(t, shape["p_alive"])
	require.Nil(t, shape["expected_purchases"])
	require.Nil(t, shape["event_time"])
	require.Equal(t, "-0.05", shape["clv"])
	require.Equal(t, "EUR", shape["currency"])
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, int64(-5), back.CLV.Minor)
	require.True(t, math.IsNaN(back.PAlive))
}

func TestRecoveryJSON(t *testing.T) {
	t.Parallel()
	r := events.Recovery{
		ID: "id-2", CustomerID: "c-42", ComplaintID: "k-9", Severity: events.SeverityHigh,
		ValueTier: "high_performance", Priority: "p1",
		CompensationLimit: events.Money{Minor: 5000, MinorUnits: 2, Currency: "USD"},
		Cause:             events.Cause{Kind: events.CauseEvent, EventID: "e-77"},
		EventTime:         evTime, Time: evTime.Add(200 * time.Millisecond), Sequence: 9,
	}
	want := `{"id":"id-2","customer_id":"c-42","complaint_id":"k-9","severity":"high","value_tier":"high_performance",` +
		`"priority":"p1","compensation_limit":"50.00","currency":"USD","cause":{"kind":"event","event_id":"e-77"},` +
		`"event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:00.2Z","sequence":9}`
	require.Equal(t, want, string(r.AppendJSON(nil)))
	m, err := json.Marshal(r)
	require.NoError(t, err)
	require.Equal(t, want, string(m))
	m, err = json.Marshal(&r)
	require.NoError(t, err)
	require.Equal(t, want, string(m))
	var back events.Recovery
	require.NoError(t, json.Unmarshal([]byte(want), &back))
	require.Equal(t, r, back)
}

func TestOutputJSONStrings(t *testing.T) {
	t.Parallel()
	// Every string is valid JSON whatever it holds, and reads back the same
	// (invalid UTF-8 reads back as U+FFFD, as with encoding/json).
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "ctl\x00\x01\x1f\n\r\t\b\f", "é😀", "\u2028\u2029", "{tag}", "bad\xffutf8"} {
		c := events.SegmentChange{CustomerID: s, To: s, Scores: []events.Score{{Name: s, Value: 1}}}
		b := c.AppendJSON(nil)
		require.True(t, json.Valid(b), "%q -> %s", s, b)
		var back events.SegmentChange
		require.NoError(t, json.Unmarshal(b, &back))
		want := strings.ToValidUTF8(s, "\uFFFD")
		require.Equal(t, want, back.CustomerID)
		require.Equal(t, want, back.Scores[0].Name)
		ref, err := json.Marshal(s)
		require.NoError(t, err)
		require.Contains(t, string(b), `"customer_id":`+strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(ref)))
	}
}

func TestOutputFloatsMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 123456789, 1e20, 1e21, 1.5e300, -2.5e-10, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		c := events.SegmentChange{Scores: []events.Score{{Name: "x", Value: f}}}
		ref, err := json.Marshal(f)
		require.NoError(t, err)
		require.Contains(t, string(c.AppendJSON(nil)), `"scores":{"x":`+string(ref)+`}`)
	}
}

func TestOutputID(t *testing.T) {
	t.Parallel()
	id := events.OutputID("c-42", "segment-changes", "7", "at_risk")
	require.Equal(t, "75fb0eb4e996898a7b1c06d59caa5d94", id, "the id must stay stable across releases")
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, id, events.OutputID("c-42", "segment-changes", "7", "at_risk"))
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb924", events.OutputID())
	require.Equal(t, "95e98730d96605ac7a50fb8dfcd3e46b", events.OutputID(strings.Repeat("x", 300)))

	distinct := [][]string{
		{"a", "bc"}, {"ab", "c"}, {"abc"}, {"abc", ""}, {"", "abc"}, {""}, {}, {"", ""},
		{"c-42", "segment-changes", "7", "at_risk"}, {"c-42", "segment-changes", "8", "at_risk"},
		{"c-42", "churn-risk", "7", "at_risk"}, {"c-43", "segment-changes", "7", "at_risk"},
		{"c-42", "segment-changes", "7", "lost"},
	}
	seen := map[string][]string{}
	for _, parts := range distinct {
		id := events.OutputID(parts...)
		prev, dup := seen[id]
		require.False(t, dup, "%q and %q collide", prev, parts)
		seen[id] = parts
	}
}
