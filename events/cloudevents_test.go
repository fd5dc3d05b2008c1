package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

func TestDecodeCloudEventsStructured(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	want := events.Event{ID: "e-1", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
		Purchase: events.Purchase{OrderID: "o-1", Amount: 1089, Currency: "EUR"}}
	const data = `"data":{"order_id":"o-1","amount":"10.05","currency":"EUR"}`
	valid := []struct {
		name    string
		value   string
		headers []events.Header
	}{
		{"reverse-DNS type and subject",
			`{"specversion":"1.0","id":"e-1","source":"/shop","type":"com.example.shop.purchase","time":"2024-05-01T10:00:00Z","subject":"c-1",` + data + `}`, nil},
		{"plain type, customer in data, extensions ignored",
			`{"specversion":"1.0","id":"e-1","source":"/shop","type":"purchase","time":"2024-05-01T10:00:00Z","traceparent":"00-ab","amount":7,` +
				`"data":{"customer_id":"c-1","order_id":"o-1","amount":"10.05","currency":"EUR","id":"ignored","type":"contact"}}`, nil},
		{"subject equals data.customer_id; datacontenttype with parameters",
			`{"data":{"customer_id":"c-1","order_id":"o-1","amount":"10.05","currency":"EUR","schema":1},"subject":"c-1","datacontenttype":"application/json; charset=utf-8",` +
				`"specversion":"1.0","id":"e-1","source":"/shop","type":"com.example.shop.purchase","time":"2024-05-01T10:00:00Z"}`, nil},
		{"content-type header",
			`{"specversion":"1.0","id":"e-1","source":"/shop","type":"x.purchase","time":"2024-05-01T10:00:00Z","subject":"c-1",` + data + `}`,
			[]events.Header{{Key: "Content-Type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Decode([]byte("c-1"), []byte(tt.value), tt.headers)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}

	t.Run("complaint and contact", func(t *testing.T) {
		t.Parallel()
		got, err := d.Decode(nil, []byte(`{"specversion":"1.0","id":"e-2","source":"s","type":"com.example.crm.complaint","time":"2024-05-01T10:00:00Z",`+
			`"subject":"c-1","data":{"complaint_id":"k","severity":"high"}}`), nil)
		require.NoError(t, err)
		require.Equal(t, events.TypeComplaint, got.Type)
		require.Equal(t, events.SeverityHigh, got.Complaint.Severity)
		got, err = d.Decode(nil, []byte(`{"specversion":"1.0","id":"e-3","source":"s","type":"com.example.crm.contact","time":"2024-05-01T10:00:00Z",`+
			`"subject":"c-1","data":{"contact_id":"t","channel":"email","direction":"outbound"}}`), nil)
		require.NoError(t, err)
		require.Equal(t, events.TypeContact, got.Type)
	})

	ce := func(attrs string) string {
		return `{"specversion":"1.0","id":"e-1","source":"/shop","time":"2024-05-01T10:00:00Z",` + attrs + `}`
	}
	tests := []errCase{
		{name: "specversion 0.3", value: `{"specversion":"0.3","id":"e","source":"s","type":"purchase","time":"2024-05-01T10:00:00Z","subject":"c",` + data + `}`,
			field: "specversion", reason: events.ReasonUnsupportedVersion, rule: "must be 1.0"},
		{name: "specversion number", value: `{"specversion":1.0}`, field: "specversion", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "specversion null", value: `{"specversion":null,"id":"e"}`, field: "specversion", reason: events.ReasonMissingField, rule: "is required"},
		{name: "source missing", value: `{"specversion":"1.0","id":"e","type":"purchase","time":"2024-05-01T10:00:00Z","subject":"c",` + data + `}`,
			field: "source", reason: events.ReasonMissingField, rule: "is required"},
		{name: "source empty", value: `{"specversion":"1.0","source":"","id":"e",` + data + `}`,
			field: "source", reason: events.ReasonInvalidField, rule: "must not be empty"},
		{name: "data missing", value: ce(`"type":"purchase","subject":"c-1"`), field: "data", reason: events.ReasonMissingField, rule: "is required"},
		{name: "data_base64", value: ce(`"type":"purchase","subject":"c-1","data_base64":"e30="`), field: "data_base64", reason: events.ReasonInvalidField, rule: "is not supported"},
		{name: "data_base64 duplicate", value: ce(`"type":"purchase","subject":"c-1","data_base64":"e30=","data_base64":"e30="`), field: "data_base64", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "data string", value: ce(`"type":"purchase","subject":"c-1","data":"{}"`), field: "data", reason: events.ReasonInvalidField, rule: "must be a JSON object"},
		{name: "data duplicate", value: ce(`"type":"purchase","subject":"c-1",` + data + `,` + data), field: "data", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "datacontenttype xml", value: ce(`"type":"purchase","subject":"c-1","datacontenttype":"text/xml",` + data),
			field: "datacontenttype", reason: events.ReasonUnsupportedContentType, rule: "must be application/json or absent"},
		{name: "type unknown", value: ce(`"type":"com.example.order.created","subject":"c-1",` + data),
			field: "type", reason: events.ReasonUnknownType, rule: "end in .purchase"},
		{name: "type only suffix", value: ce(`"type":".purchase","subject":"c-1",` + data),
			field: "type", reason: events.ReasonUnknownType, rule: "end in .purchase"},
		{name: "no customer", value: ce(`"type":"purchase",` + data), field: "subject", reason: events.ReasonMissingField, rule: "is required"},
		{name: "subject empty", value: ce(`"type":"purchase","subject":"",` + data), field: "subject", reason: events.ReasonInvalidField, rule: "must not be empty"},
		{name: "subject differs from data.customer_id", value: ce(`"type":"purchase","subject":"c-1","data":{"customer_id":"c-2","order_id":"o","amount":1,"currency":"USD"}`),
			field: "data.customer_id", reason: events.ReasonInvalidField, rule: `must equal subject "c-1"`},
		{name: "subject and key", key: "c-2", value: ce(`"type":"purchase","subject":"c-1",` + data),
			field: "subject", reason: events.ReasonKeyMismatch, rule: `must equal the Kafka record key "c-2"`},
		{name: "data.customer_id and key", key: "c-2", value: ce(`"type":"purchase","data":{"customer_id":"c-1","order_id":"o","amount":1,"currency":"USD"}`),
			field: "data.customer_id", reason: events.ReasonKeyMismatch, rule: `must equal the Kafka record key "c-2"`},
		{name: "data field error named with prefix", value: ce(`"type":"purchase","subject":"c-1","data":{"order_id":"o","amount":"-1","currency":"USD"}`),
			field: "data.amount", reason: events.ReasonInvalidField, rule: "must be greater than 0"},
		{name: "data schema 2", value: ce(`"type":"purchase","subject":"c-1","data":{"schema":2,"order_id":"o","amount":"1","currency":"USD"}`),
			field: "data.schema", reason: events.ReasonUnsupportedVersion, rule: "must be 1"},
		{name: "time missing", value: `{"specversion":"1.0","id":"e-1","source":"/shop","type":"purchase","subject":"c-1",` + data + `}`,
			field: "time", reason: events.ReasonMissingField, rule: "is required"},
		{name: "content-type header without specversion", value: `{"id":"e-1"}`,
			headers: []events.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
			field:   "specversion", reason: events.ReasonMissingField, rule: "is required"},
		{name: "batch", value: `[{}]`, headers: []events.Header{{Key: "content-type", Value: []byte("application/cloudevents-batch+json")}},
			field: "content-type", reason: events.ReasonUnsupportedContentType, rule: "batched CloudEvents are not supported"},
	}
	runErrorCases(t, d, tests)
}

func binaryHeaders(kv ...string) []events.Header {
	var h []events.Header
	for i := 0; i < len(kv); i += 2 {
		h = append(h, events.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return h
}

func TestDecodeCloudEventsBinary(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	const payload = `{"order_id":"o-1","amount":"12.34","currency":"USD"}`
	want := events.Event{ID: "e-1", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T08:00:00Z"),
		Purchase: events.Purchase{OrderID: "o-1", Amount: 1234, Currency: "USD"}}
	full := []string{"ce_specversion", "1.0", "ce_id", "e-1", "ce_type", "com.example.shop.purchase", "ce_source", "/shop",
		"ce_time", "2024-05-01T10:00:00+02:00", "ce_subject", "c-1", "content-type", "application/json", "traceparent", "00-x"}

	valid := []struct {
		name    string
		headers []events.Header
		value   string
	}{
		{"all headers", binaryHeaders(full...), payload},
		{"no content-type, customer in data", binaryHeaders(full[:10]...), `{"customer_id":"c-1","order_id":"o-1","amount":"12.34","currency":"USD"}`},
		{"Content-Type with +json", binaryHeaders(append(full[:12:12], "Content-Type", "application/vnd.shop+json")...), payload},
		{"value specversion is just data", binaryHeaders(full...), `{"specversion":"2","order_id":"o-1","amount":"12.34","currency":"USD"}`},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Decode([]byte("c-1"), []byte(tt.value), tt.headers)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}

	// with returns the full headers with key set to value ("" value: removed).
	with := func(key, value string) []events.Header {
		var kv []string
		for i := 0; i < len(full); i += 2 {
			if full[i] == key {
				if value != "" {
					kv = append(kv, key, value)
				}
				continue
			}
			kv = append(kv, full[i], full[i+1])
		}
		return binaryHeaders(kv...)
	}
	tests := []errCase{
		{name: "specversion", headers: with("ce_specversion", "0.3"), value: payload, field: "ce_specversion", reason: events.ReasonUnsupportedVersion, rule: "must be 1.0"},
		{name: "id missing", headers: with("ce_id", ""), value: payload, field: "ce_id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "id duplicate", headers: append(with("", ""), events.Header{Key: "ce_id", Value: []byte("e-2")}), value: payload,
			field: "ce_id", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "source missing", headers: with("ce_source", ""), value: payload, field: "ce_source", reason: events.ReasonMissingField, rule: "is required"},
		{name: "type", headers: with("ce_type", "com.example.shop.order"), value: payload, field: "ce_type", reason: events.ReasonUnknownType, rule: "end in .purchase"},
		{name: "time", headers: with("ce_time", "yesterday"), value: payload, field: "ce_time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "future", headers: with("ce_time", "2030-01-01T00:00:00Z"), value: payload, field: "ce_time", reason: events.ReasonFutureTime, rule: "after the current time"},
		{name: "subject invalid UTF-8", headers: with("ce_subject", "c\xff"), value: payload, field: "ce_subject", reason: events.ReasonInvalidField, rule: "valid UTF-8"},
		{name: "subject and key", key: "c-2", headers: with("", ""), value: payload, field: "ce_subject", reason: events.ReasonKeyMismatch, rule: "Kafka record key"},
		{name: "no customer", headers: with("ce_subject", ""), value: payload, field: "ce_subject", reason: events.ReasonMissingField, rule: "is required"},
		{name: "content-type text", headers: with("content-type", "text/plain"), value: payload, field: "content-type", reason: events.ReasonUnsupportedContentType, rule: "must be application/json"},
		{name: "content-type twice", headers: append(with("", ""), events.Header{Key: "content-type", Value: []byte("application/json")}), value: payload,
			field: "content-type", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "value not JSON", headers: with("", ""), value: `amount=12`, reason: events.ReasonInvalidJSON, rule: "want a JSON object"},
		{name: "value empty", headers: with("", ""), value: ``, reason: events.ReasonInvalidJSON, rule: "empty message"},
		{name: "payload field", headers: with("", ""), value: `{"order_id":"o-1","amount":"12.34","currency":"XTS"}`, field: "currency", reason: events.ReasonUnknownCurrency, rule: "configured rate"},
	}
	runErrorCases(t, d, tests)
}
