package events_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

func TestTypeAndSeverityNames(t *testing.T) {
	t.Parallel()
	for _, ty := range []events.Type{events.TypePurchase, events.TypeComplaint, events.TypeContact} {
		require.Equal(t, ty, events.ParseType(ty.String()))
	}
	require.Equal(t, "unknown", events.TypeUnknown.String())
	require.Equal(t, events.TypeUnknown, events.ParseType("com.example.purchase"))
	require.Equal(t, events.TypeUnknown, events.ParseType("Purchase"))

	for _, s := range []events.Severity{events.SeverityLow, events.SeverityMedium, events.SeverityHigh, events.SeverityCritical} {
		require.Equal(t, s, events.ParseSeverity(s.String()))
	}
	require.Equal(t, "unknown", events.SeverityUnknown.String())
	require.Equal(t, events.SeverityUnknown, events.ParseSeverity("urgent"))
	require.Less(t, events.SeverityLow, events.SeverityCritical)
}

func TestOutputUnmarshalErrors(t *testing.T) {
	t.Parallel()
	var c events.SegmentChange
	require.ErrorContains(t, json.Unmarshal([]byte(`{"sequence":"x"}`), &c), "events: segment change")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"scores":[1]}`), &c), "scores: want a JSON object")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"metrics":{"a":"b"}}`), &c), "metrics")
	var r events.ChurnRisk
	require.ErrorContains(t, json.Unmarshal([]byte(`{"clv":"12,5"}`), &r), `clv: "12,5" is not a decimal`)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"clv":1}`), &r), "events: churn risk")
	var rec events.Recovery
	require.ErrorContains(t, json.Unmarshal([]byte(`{"compensation_limit":"1e30"}`), &rec), "out of range")
	require.ErrorContains(t, json.Unmarshal([]byte(`[]`), &rec), "events: recovery")
	require.NoError(t, json.Unmarshal([]byte(`{"compensation_limit":"","currency":"USD"}`), &rec))
	require.Equal(t, events.Money{Currency: "USD"}, rec.CompensationLimit)
	m, err := json.Marshal(&events.ChurnRisk{})
	require.NoError(t, err)
	require.True(t, json.Valid(m))
}
