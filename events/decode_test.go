package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

// testNow is the current time of the test decoders.
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newDecoder(tb testing.TB) *events.Decoder {
	tb.Helper()
	d, err := events.NewDecoder(events.DecoderConfig{
		Rates: map[string]string{"EUR": "1.0837", "JPY": "0.0064", "GBP": "1.27"},
		Now:   func() time.Time { return testNow },
	})
	require.NoError(tb, err)
	return d
}

// ts parses an RFC 3339 time into UTC.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	tests := []struct {
		name    string
		key     string
		value   string
		headers []events.Header
		want    events.Event
	}{
		{
			name: "purchase minimal",
			key:  "c-1",
			value: `{"id":"e-1","type":"purchase","customer_id":"c-1","time":"2024-05-01T10:00:00Z",
				"order_id":"o-1","amount":"12.34","currency":"USD"}`,
			want: events.Event{ID: "e-1", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Purchase: events.Purchase{OrderID: "o-1", Amount: 1234, Currency: "USD"}},
		},
		{
			name: "purchase full with schema, number amount, offset time",
			value: `{"schema":1,"id":"e-2","type":"purchase","customer_id":"c-1","time":"2024-05-01T12:00:00.123456789+02:00",
				"order_id":"o-2","amount":12,"currency":"USD","kind":"sale","margin":"-1.5","items":3,"channel":"web"}`,
			want: events.Event{ID: "e-2", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00.123456789Z"),
				Purchase: events.Purchase{OrderID: "o-2", Amount: 1200, Currency: "USD", Margin: -150, HasMargin: true, Items: 3, Channel: "web"}},
		},
		{
			name: "refund in EUR with zero margin",
			value: `{"id":"e-3","type":"purchase","customer_id":"c-1","time":"2024-05-01T10:00:00Z",
				"order_id":"o-1","amount":"10.05","currency":"EUR","kind":"refund","margin":0}`,
			want: events.Event{ID: "e-3", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Purchase: events.Purchase{OrderID: "o-1", Refund: true, Amount: 1089, Currency: "EUR", HasMargin: true}},
		},
		{
			name: "complaint defaults to opened",
			value: `{"id":"e-4","type":"complaint","customer_id":"c-1","time":"2024-05-01T10:00:00Z",
				"complaint_id":"k-1","severity":"critical","category":"delivery"}`,
			want: events.Event{ID: "e-4", Type: events.TypeComplaint, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Complaint: events.Complaint{ComplaintID: "k-1", Severity: events.SeverityCritical, Category: "delivery"}},
		},
		{
			name: "complaint resolved",
			value: `{"id":"e-5","type":"complaint","customer_id":"c-1","time":"2024-05-01T10:00:00Z",
				"complaint_id":"k-1","severity":"low","status":"resolved","channel":"phone"}`,
			want: events.Event{ID: "e-5", Type: events.TypeComplaint, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Complaint: events.Complaint{ComplaintID: "k-1", Severity: events.SeverityLow, Resolved: true, Channel: "phone"}},
		},
		{
			name: "contact",
			value: `{"id":"e-6","type":"contact","customer_id":"c-1","time":"2024-05-01T10:00:00Z",
				"contact_id":"t-1","channel":"carrier-pigeon","direction":"inbound","campaign_id":"spring","outcome":"clicked"}`,
			want: events.Event{ID: "e-6", Type: events.TypeContact, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Contact: events.Contact{ContactID: "t-1", Channel: "carrier-pigeon", Inbound: true, CampaignID: "spring", Outcome: "clicked"}},
		},
		{
			name: "contact outbound; other types' fields and nulls ignored",
			value: `{"id":"e-7","type":"contact","customer_id":"c-1","time":"2024-05-01T10:00:00Z","amount":"x","severity":7,
				"contact_id":"t-1","channel":"email","direction":"outbound","campaign_id":null,"schema":null}`,
			want: events.Event{ID: "e-7", Type: events.TypeContact, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Contact: events.Contact{ContactID: "t-1", Channel: "email"}},
		},
		{
			name: "unknown fields of every shape skipped, whitespace everywhere",
			value: " \r\n\t{ \"x\" : {\"a\":[1,2,{\"b\":null}],\"c\":\"}\"} , \"id\" :\"e-8\",\"y\":[[],{}],\"type\":\"contact\",\"z\":-0.5e+10," +
				"\"customer_id\":\"c-1\",\"t\":true,\"f\":false,\"n\":null,\"time\":\"2024-05-01T10:00:00Z\",\"contact_id\":\"t\"," +
				"\"channel\":\"sms\",\"direction\":\"outbound\" } \n",
			want: events.Event{ID: "e-8", Type: events.TypeContact, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
				Contact: events.Contact{ContactID: "t", Channel: "sms"}},
		},
		{
			name: "escapes in keys and values",
			value: `{"\u0069d":"e\"9\\\/\b\f\n\r\t","type":"purch\u0061se","customer_id":"c-\u00e9\ud83d\ude00","time":"2024-05-01T10:00:00\u005a",
				"order_id":"o","amount":"1\u002e5","currency":"\u0055SD","kind":"s\u0061le"}`,
			want: events.Event{ID: "e\"9\\/\b\f\n\r\t", Type: events.TypePurchase, CustomerID: "c-é😀", Time: ts("2024-05-01T10:00:00Z"),
				Purchase: events.Purchase{OrderID: "o", Amount: 150, Currency: "USD"}},
		},
		{
			name: "lower-case t and z in time",
			value: `{"id":"e","type":"contact","customer_id":"c","time":"2024-02-29t10:00:00.5z",
				"contact_id":"t","channel":"push","direction":"outbound"}`,
			want: events.Event{ID: "e", Type: events.TypeContact, CustomerID: "c", Time: ts("2024-02-29T10:00:00.5Z"),
				Contact: events.Contact{ContactID: "t", Channel: "push"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Decode([]byte(tt.key), []byte(tt.value), tt.headers)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// base is a valid purchase; mutate builds variations of it.
const base = `"id":"e-1","type":"purchase","customer_id":"c-1","time":"2024-05-01T10:00:00Z","order_id":"o-1","amount":"12.34","currency":"USD"`

// without returns base without the member named key, plus extra members.
func without(key string, extra string) string {
	var parts []string
	for p := range strings.SplitSeq(base, `,"`) {
		if !strings.HasPrefix(p, `"`) {
			p = `"` + p
		}
		if strings.HasPrefix(p, `"`+key+`":`) {
			continue
		}
		parts = append(parts, p)
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func complaintWith(extra string) string {
	s := `{"id":"e-1","type":"complaint","customer_id":"c-1","time":"2024-05-01T10:00:00Z"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func contactWith(extra string) string {
	s := `{"id":"e-1","type":"contact","customer_id":"c-1","time":"2024-05-01T10:00:00Z"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

type errCase struct {
	name    string
	key     string
	value   string
	headers []events.Header
	field   string
	reason  events.Reason
	rule    string // substring of the rule
}

func runErrorCases(t *testing.T, d *events.Decoder, tests []errCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := d.Decode([]byte(tt.key), []byte(tt.value), tt.headers)
			require.Error(t, err)
			require.ErrorIs(t, err, events.ErrInvalid)
			de, ok := errors.AsType[*events.DecodeError](err)
			require.True(t, ok, "%T", err)
			require.Equal(t, tt.reason, de.Reason, "%v", err)
			require.Equal(t, tt.reason, events.ReasonOf(err))
			require.Equal(t, tt.field, de.Field, "%v", err)
			require.Contains(t, de.Rule, tt.rule, "%v", err)
			require.Contains(t, err.Error(), de.Rule)
			if tt.field != "" {
				require.Contains(t, err.Error(), `field "`+tt.field+`"`)
			}
		})
	}
}

func TestDecodeFieldRules(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	tests := []errCase{
		// Common fields.
		{name: "id missing", value: without("id", ""), field: "id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "id null", value: without("id", `"id":null`), field: "id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "id empty", value: without("id", `"id":""`), field: "id", reason: events.ReasonInvalidField, rule: "must not be empty"},
		{name: "id number", value: without("id", `"id":12`), field: "id", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "id too long", value: without("id", `"id":"`+strings.Repeat("x", 257)+`"`), field: "id", reason: events.ReasonInvalidField, rule: "at most 256 bytes"},
		{name: "id duplicate", value: without("", `"id":"e-2"`), field: "id", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "type missing", value: without("type", ""), field: "type", reason: events.ReasonMissingField, rule: "is required"},
		{name: "type unknown", value: without("type", `"type":"order"`), field: "type", reason: events.ReasonUnknownType, rule: "must be purchase, complaint or contact"},
		{name: "type reverse-dns only for CloudEvents", value: without("type", `"type":"com.x.purchase"`), field: "type", reason: events.ReasonUnknownType, rule: "must be purchase"},
		{name: "type case-sensitive", value: without("type", `"type":"Purchase"`), field: "type", reason: events.ReasonUnknownType, rule: "must be purchase"},
		{name: "type array", value: without("type", `"type":["purchase"]`), field: "type", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "customer missing", value: without("customer_id", ""), field: "customer_id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "customer empty", value: without("customer_id", `"customer_id":""`), field: "customer_id", reason: events.ReasonInvalidField, rule: "must not be empty"},
		{name: "customer number", value: without("customer_id", `"customer_id":42`), field: "customer_id", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "time missing", value: without("time", ""), field: "time", reason: events.ReasonMissingField, rule: "is required"},
		{name: "time number", value: without("time", `"time":1714557600`), field: "time", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "time no zone", value: without("time", `"time":"2024-05-01T10:00:00"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time date only", value: without("time", `"time":"2024-05-01"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time space separator", value: without("time", `"time":"2024-05-01 10:00:00Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time Feb 30", value: without("time", `"time":"2024-02-30T10:00:00Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time Feb 29 non-leap", value: without("time", `"time":"2023-02-29T10:00:00Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time hour 24", value: without("time", `"time":"2024-05-01T24:00:00Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time leap second", value: without("time", `"time":"2016-12-31T23:59:60Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time 10 fraction digits", value: without("time", `"time":"2024-05-01T10:00:00.1234567891Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time empty fraction", value: without("time", `"time":"2024-05-01T10:00:00.Z"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time bad offset", value: without("time", `"time":"2024-05-01T10:00:00+0200"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time offset minutes 60", value: without("time", `"time":"2024-05-01T10:00:00+01:60"`), field: "time", reason: events.ReasonInvalidField, rule: "RFC 3339"},
		{name: "time before 1970", value: without("time", `"time":"1969-12-31T23:59:59Z"`), field: "time", reason: events.ReasonInvalidField, rule: "before 1970"},
		{name: "schema 2", value: without("", `"schema":2`), field: "schema", reason: events.ReasonUnsupportedVersion, rule: "must be 1"},
		{name: "schema string", value: without("", `"schema":"1"`), field: "schema", reason: events.ReasonUnsupportedVersion, rule: "must be 1"},
		{name: "schema 1.5", value: without("", `"schema":1.5`), field: "schema", reason: events.ReasonUnsupportedVersion, rule: "must be 1"},
		{name: "key mismatch", key: "c-2", value: without("", ""), field: "customer_id", reason: events.ReasonKeyMismatch, rule: `must equal the Kafka record key "c-2"`},

		// Purchase.
		{name: "order_id missing", value: without("order_id", ""), field: "order_id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "order_id object", value: without("order_id", `"order_id":{}`), field: "order_id", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "amount missing", value: without("amount", ""), field: "amount", reason: events.ReasonMissingField, rule: "is required"},
		{name: "amount negative", value: without("amount", `"amount":"-3"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be greater than 0"},
		{name: "amount zero", value: without("amount", `"amount":0`), field: "amount", reason: events.ReasonInvalidField, rule: "must be greater than 0"},
		{name: "amount minus zero", value: without("amount", `"amount":"-0.00"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be greater than 0"},
		{name: "amount bool", value: without("amount", `"amount":true`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal string or number"},
		{name: "amount words", value: without("amount", `"amount":"twelve"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount comma", value: without("amount", `"amount":"12,34"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount plus sign", value: without("amount", `"amount":"+1"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount leading dot", value: without("amount", `"amount":".5"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount trailing dot", value: without("amount", `"amount":"5."`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount spaces", value: without("amount", `"amount":" 5"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be a decimal number"},
		{name: "amount too long", value: without("amount", `"amount":"`+strings.Repeat("1", 65)+`"`), field: "amount", reason: events.ReasonInvalidField, rule: "at most 64 characters"},
		{name: "amount too many decimals", value: without("amount", `"amount":"1.005"`), field: "amount", reason: events.ReasonInvalidField, rule: "at most 2 decimal places in USD"},
		{name: "amount overflow", value: without("amount", `"amount":"92233720368547758.08"`), field: "amount", reason: events.ReasonInvalidField, rule: "must be within ±92233720368547758.07 USD"},
		{name: "amount huge exponent", value: without("amount", `"amount":1e999999999999`), field: "amount", reason: events.ReasonInvalidField, rule: "must be within"},
		{name: "amount tiny exponent", value: without("amount", `"amount":1e-999999999999`), field: "amount", reason: events.ReasonInvalidField, rule: "decimal places"},
		{name: "amount converted rounds to zero", value: strings.Replace(without("amount", `"amount":"0.5"`), `"USD"`, `"JPY"`, 1), field: "amount", reason: events.ReasonInvalidField, rule: "must be greater than 0 after conversion to USD"},
		{name: "currency missing", value: without("currency", ""), field: "currency", reason: events.ReasonMissingField, rule: "is required"},
		{name: "currency lower case", value: without("currency", `"currency":"usd"`), field: "currency", reason: events.ReasonInvalidField, rule: "ISO 4217"},
		{name: "currency symbol", value: without("currency", `"currency":"$"`), field: "currency", reason: events.ReasonInvalidField, rule: "ISO 4217"},
		{name: "currency unknown", value: without("currency", `"currency":"CHF"`), field: "currency", reason: events.ReasonUnknownCurrency, rule: "must be USD or a currency with a configured rate"},
		{name: "kind unknown", value: without("", `"kind":"return"`), field: "kind", reason: events.ReasonInvalidField, rule: "must be sale or refund"},
		{name: "kind bool", value: without("", `"kind":true`), field: "kind", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "margin too many decimals", value: without("", `"margin":"0.001"`), field: "margin", reason: events.ReasonInvalidField, rule: "decimal places"},
		{name: "margin array", value: without("", `"margin":[1]`), field: "margin", reason: events.ReasonInvalidField, rule: "must be a decimal string or number"},
		{name: "margin overflow", value: without("", `"margin":-1e20`), field: "margin", reason: events.ReasonInvalidField, rule: "must be within"},
		{name: "items negative", value: without("", `"items":-1`), field: "items", reason: events.ReasonInvalidField, rule: "must not be negative"},
		{name: "items fraction", value: without("", `"items":1.5`), field: "items", reason: events.ReasonInvalidField, rule: "whole number"},
		{name: "items string", value: without("", `"items":"3"`), field: "items", reason: events.ReasonInvalidField, rule: "must be a number"},
		{name: "items overflow", value: without("", `"items":9223372036854775808`), field: "items", reason: events.ReasonInvalidField, rule: "at most 9223372036854775807"},
		{name: "channel number", value: without("", `"channel":1`), field: "channel", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "channel too long", value: without("", `"channel":"`+strings.Repeat("é", 129)+`"`), field: "channel", reason: events.ReasonInvalidField, rule: "at most 256 bytes"},
		{name: "duplicate amount", value: without("", `"amount":"12.34"`), field: "amount", reason: events.ReasonDuplicateField, rule: "at most once"},

		// Complaint.
		{name: "complaint_id missing", value: complaintWith(`"severity":"low"`), field: "complaint_id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "severity missing", value: complaintWith(`"complaint_id":"k"`), field: "severity", reason: events.ReasonMissingField, rule: "is required"},
		{name: "severity unknown", value: complaintWith(`"complaint_id":"k","severity":"urgent"`), field: "severity", reason: events.ReasonInvalidField, rule: "must be low, medium, high or critical"},
		{name: "severity number", value: complaintWith(`"complaint_id":"k","severity":3`), field: "severity", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "status unknown", value: complaintWith(`"complaint_id":"k","severity":"low","status":"closed"`), field: "status", reason: events.ReasonInvalidField, rule: "must be opened or resolved"},
		{name: "category number", value: complaintWith(`"complaint_id":"k","severity":"low","category":1`), field: "category", reason: events.ReasonInvalidField, rule: "must be a string"},

		// Contact.
		{name: "contact_id missing", value: contactWith(`"channel":"email","direction":"inbound"`), field: "contact_id", reason: events.ReasonMissingField, rule: "is required"},
		{name: "contact channel missing", value: contactWith(`"contact_id":"t","direction":"inbound"`), field: "channel", reason: events.ReasonMissingField, rule: "is required"},
		{name: "contact channel empty", value: contactWith(`"contact_id":"t","channel":"","direction":"inbound"`), field: "channel", reason: events.ReasonInvalidField, rule: "must not be empty"},
		{name: "direction missing", value: contactWith(`"contact_id":"t","channel":"email"`), field: "direction", reason: events.ReasonMissingField, rule: "is required"},
		{name: "direction unknown", value: contactWith(`"contact_id":"t","channel":"email","direction":"sideways"`), field: "direction", reason: events.ReasonInvalidField, rule: "must be inbound or outbound"},
		{name: "outcome number", value: contactWith(`"contact_id":"t","channel":"email","direction":"inbound","outcome":1`), field: "outcome", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "campaign_id bool", value: contactWith(`"contact_id":"t","channel":"email","direction":"inbound","campaign_id":false`), field: "campaign_id", reason: events.ReasonInvalidField, rule: "must be a string"},
	}
	runErrorCases(t, d, tests)
}

func TestDecodeInvalidJSON(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	tests := []struct{ name, value, rule string }{
		{"empty", "", "empty message"},
		{"whitespace", " \n", "empty message"},
		{"array", `[]`, "want a JSON object"},
		{"string", `"x"`, "want a JSON object"},
		{"truncated", `{"id":"e"`, "unexpected end of input"},
		{"trailing garbage", `{"id":"e"} x`, "unexpected data after the JSON object"},
		{"two objects", `{}{}`, "unexpected data after the JSON object"},
		{"trailing comma", `{"id":"e",}`, "want a string key"},
		{"missing colon", `{"id" "e"}`, "want ':'"},
		{"single quotes", `{'id':'e'}`, "want a string key"},
		{"unquoted key", `{id:"e"}`, "want a string key"},
		{"bad escape", `{"id":"\x"}`, "invalid escape"},
		{"bad unicode escape", `{"id":"\u12G4"}`, "invalid \\u escape"},
		{"short unicode escape", `{"id":"\u12"}`, "invalid \\u escape"},
		{"unicode escape at end", `{"id":"\u12`, "unterminated string"},
		{"backslash at end", `{"id":"\`, "unterminated string"},
		{"control char", "{\"id\":\"a\tb\"}", "control character"},
		{"unterminated string", `{"id":"e`, "unterminated string"},
		{"leading zero", `{"n":01}`, "want ',' or '}'"},
		{"bare minus", `{"n":-}`, "invalid number"},
		{"dot without digits", `{"n":1.}`, "want a digit after '.'"},
		{"exponent without digits", `{"n":1e}`, "want a digit in the exponent"},
		{"plus number", `{"n":+1}`, "want a value"},
		{"NaN", `{"n":NaN}`, "want a value"},
		{"bad literal", `{"n":tru}`, "want a value"},
		{"nested unterminated", `{"x":{"a":[1,2}}`, "want ',' or ']'"},
		{"nested bad key", `{"x":{1:2}}`, "want a string key"},
		{"nested trailing comma", `{"x":[1,]}`, "want a value"},
		{"too deep", `{"x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`, "nested too deeply"},
		{"comment", `{"id":"e"/*c*/}`, "want ',' or '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := d.Decode(nil, []byte(tt.value), nil)
			require.ErrorIs(t, err, events.ErrInvalid)
			require.Equal(t, events.ReasonInvalidJSON, events.ReasonOf(err))
			require.Contains(t, err.Error(), tt.rule)
			require.Contains(t, err.Error(), "invalid JSON at byte offset")
		})
	}

	t.Run("deep but allowed", func(t *testing.T) {
		t.Parallel()
		v := without("", `"x":`+strings.Repeat("[", 64)+strings.Repeat("]", 64))
		_, err := d.Decode(nil, []byte(v), nil)
		require.NoError(t, err)
	})
}

func TestDecodeCustomerID(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	valid := []struct{ name, wire, want string }{
		{"braces", `{c-1}`, "{c-1}"},
		{"hash-tag look-alike", `a}{b{c}`, "a}{b{c}"},
		{"spaces", `  two words  `, "  two words  "},
		{"emoji raw", "🙂 customer", "🙂 customer"},
		{"emoji escaped", `\ud83d\ude42`, "🙂"},
		{"quotes and backslashes", `a\"b\\c`, `a"b\c`},
		{"NUL escaped", `a\u0000b`, "a\x00b"},
		{"256 bytes", strings.Repeat("x", 256), strings.Repeat("x", 256)},
		{"256 bytes of 4-byte runes", strings.Repeat("😀", 64), strings.Repeat("😀", 64)},
		{"256 bytes escaped", strings.Repeat(`\u0078`, 256), strings.Repeat("x", 256)},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := without("customer_id", `"customer_id":"`+tt.wire+`"`)
			ev, err := d.Decode([]byte(tt.want), []byte(v), nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, ev.CustomerID)
			// Without a key too.
			ev, err = d.Decode(nil, []byte(v), nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, ev.CustomerID)
		})
	}

	invalid := []errCase{
		{name: "257 bytes", value: without("customer_id", `"customer_id":"`+strings.Repeat("x", 257)+`"`), rule: "at most 256 bytes"},
		{name: "257 bytes escaped", value: without("customer_id", `"customer_id":"`+strings.Repeat(`\u0078`, 257)+`"`), rule: "at most 256 bytes"},
		{name: "260 bytes of runes", value: without("customer_id", `"customer_id":"`+strings.Repeat("😀", 65)+`"`), rule: "at most 256 bytes"},
		{name: "invalid UTF-8", value: without("customer_id", "\"customer_id\":\"c\xff\""), rule: "valid UTF-8"},
		{name: "truncated UTF-8", value: without("customer_id", "\"customer_id\":\"c\xf0\x9f\x98\""), rule: "valid UTF-8"},
		{name: "overlong UTF-8", value: without("customer_id", "\"customer_id\":\"\xc0\xaf\""), rule: "valid UTF-8"},
		{name: "lone high surrogate", value: without("customer_id", `"customer_id":"\ud83d"`), rule: "valid UTF-8"},
		{name: "lone low surrogate", value: without("customer_id", `"customer_id":"\ude00x"`), rule: "valid UTF-8"},
		{name: "reversed surrogates", value: without("customer_id", `"customer_id":"\ude00\ud83d"`), rule: "valid UTF-8"},
		{name: "high surrogate then letter", value: without("customer_id", `"customer_id":"\ud83d\u0041"`), rule: "valid UTF-8"},
	}
	for i := range invalid {
		invalid[i].field, invalid[i].reason = "customer_id", events.ReasonInvalidField
	}
	runErrorCases(t, d, invalid)

	t.Run("key compared after unescaping", func(t *testing.T) {
		t.Parallel()
		v := without("customer_id", `"customer_id":"\u0063-1"`)
		ev, err := d.Decode([]byte("c-1"), []byte(v), nil)
		require.NoError(t, err)
		require.Equal(t, "c-1", ev.CustomerID)
		_, err = d.Decode([]byte(`\u0063-1`), []byte(v), nil)
		require.Equal(t, events.ReasonKeyMismatch, events.ReasonOf(err))
	})
}

func TestDecodeFutureSkew(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	d, err := events.NewDecoder(events.DecoderConfig{
		MaxFutureSkew: time.Minute,
		Now:           func() time.Time { return now },
	})
	require.NoError(t, err)
	tests := []struct {
		time string
		ok   bool
	}{
		{"2024-05-01T12:01:00Z", true},
		{"2024-05-01T14:01:00+02:00", true},
		{"2024-05-01T12:01:00.000000001Z", false},
		{"2024-05-01T12:00:59.999999999Z", true},
		{"2024-05-01T08:01:00.000000001-04:00", false},
		{"2001-01-01T00:00:00Z", true},
		{"9999-12-31T23:59:59Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.time, func(t *testing.T) {
			t.Parallel()
			_, err := d.Decode(nil, []byte(without("time", `"time":"`+tt.time+`"`)), nil)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, events.ReasonFutureTime, events.ReasonOf(err))
			require.EqualError(t, err, `events: field "time": value "`+tt.time+`": must not be more than 1m0s after the current time`)
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	t.Parallel()
	d, err := events.NewDecoder(events.DecoderConfig{MaxEventBytes: 300, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	pad := func(n int) string {
		v := without("", `"pad":""`)
		return strings.Replace(v, `"pad":""`, `"pad":"`+strings.Repeat("p", n-len(v))+`"`, 1)
	}
	_, err = d.Decode(nil, []byte(pad(300)), nil)
	require.NoError(t, err)
	_, err = d.Decode(nil, []byte(pad(301)), nil)
	require.Equal(t, events.ReasonTooLarge, events.ReasonOf(err))
	require.EqualError(t, err, "events: message of 301 bytes exceeds the limit of 300 bytes")
}

func TestDecodeErrorMessage(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	_, err := d.Decode(nil, []byte(without("amount", `"amount":"-3"`)), nil)
	require.EqualError(t, err, `events: field "amount": value "-3": must be greater than 0`)

	_, err = d.Decode(nil, []byte(without("order_id", "")), nil)
	require.EqualError(t, err, `events: field "order_id": is required`)

	// Long values are truncated to 64 bytes on a rune boundary.
	long := strings.Repeat("a", 63) + strings.Repeat("é", 10)
	_, err = d.Decode(nil, []byte(without("type", `"type":"`+long+`"`)), nil)
	de, ok := errors.AsType[*events.DecodeError](err)
	require.True(t, ok)
	require.Equal(t, strings.Repeat("a", 63)+"...", de.Value)

	_, err = d.Decode(nil, []byte(`{"id":`), nil)
	require.EqualError(t, err, `events: invalid JSON at byte offset 6: unexpected end of input, want a value`)
}

func TestReasons(t *testing.T) {
	t.Parallel()
	seen := map[events.Reason]bool{}
	for _, r := range events.Reasons() {
		require.Regexp(t, `^[a-z_]+$`, string(r))
		require.False(t, seen[r], r)
		seen[r] = true
	}
	require.Len(t, seen, 12)
	require.Equal(t, events.Reason(""), events.ReasonOf(errors.New("other")))
}

func TestNewDecoderValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  events.DecoderConfig
		err  string
	}{
		{"bad rate", events.DecoderConfig{Rates: map[string]string{"EUR": "abc"}}, `events: rates["EUR"]: "abc" is not a positive decimal`},
		{"zero rate", events.DecoderConfig{Rates: map[string]string{"EUR": "0.00"}}, `events: rates["EUR"]: "0.00" is not a positive decimal`},
		{"negative rate", events.DecoderConfig{Rates: map[string]string{"EUR": "-1.1"}}, `events: rates["EUR"]: "-1.1" is not a positive decimal`},
		{"empty rate", events.DecoderConfig{Rates: map[string]string{"EUR": ""}}, `events: rates["EUR"]: "" is not a positive decimal`},
		{"bad rate code", events.DecoderConfig{Rates: map[string]string{"eur": "1.1"}}, `events: rates["eur"]: "eur" is not an ISO 4217 code (3 upper-case letters)`},
		{"base rate not 1", events.DecoderConfig{Rates: map[string]string{"USD": "1.1"}}, `events: rates["USD"]: "1.1" must be 1 for the base currency`},
		{"bad base", events.DecoderConfig{BaseCurrency: "Euro"}, `events: base_currency: "Euro" is not an ISO 4217 code (3 upper-case letters)`},
		{"minor units", events.DecoderConfig{MinorUnits: 19}, `events: minor_units: 19 is out of range 0..18`},
		{"negative minor units", events.DecoderConfig{MinorUnits: -1}, `events: minor_units: -1 is out of range 0..18`},
		{"negative skew", events.DecoderConfig{MaxFutureSkew: -time.Second}, `events: max_future_skew: -1s must not be negative`},
		{"negative size", events.DecoderConfig{MaxEventBytes: -1}, `events: max_event_bytes: -1 must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := events.NewDecoder(tt.cfg)
			require.EqualError(t, err, tt.err)
			require.Nil(t, d)
			require.EqualError(t, tt.cfg.Validate(), tt.err)
		})
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		d, err := events.NewDecoder(events.DecoderConfig{})
		require.NoError(t, err)
		require.Equal(t, "USD", d.BaseCurrency())
		require.Equal(t, 2, d.MinorUnits())
		// Default Now is the wall clock: a time a minute ahead is fine, a day ahead not.
		v := without("time", `"time":"`+time.Now().Add(time.Minute).UTC().Format(time.RFC3339)+`"`)
		_, err = d.Decode(nil, []byte(v), nil)
		require.NoError(t, err)
		v = without("time", `"time":"`+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+`"`)
		_, err = d.Decode(nil, []byte(v), nil)
		require.Equal(t, events.ReasonFutureTime, events.ReasonOf(err))
	})

	t.Run("ISO minor units by default", func(t *testing.T) {
		t.Parallel()
		for code, want := range map[string]int{"JPY": 0, "KWD": 3, "EUR": 2, "XXX": 2} {
			d, err := events.NewDecoder(events.DecoderConfig{BaseCurrency: code})
			require.NoError(t, err)
			require.Equal(t, want, d.MinorUnits(), code)
		}
		d, err := events.NewDecoder(events.DecoderConfig{BaseCurrency: "JPY", MinorUnits: 2})
		require.NoError(t, err)
		require.Equal(t, 2, d.MinorUnits())
	})

	t.Run("base currency listed with rate 1", func(t *testing.T) {
		t.Parallel()
		_, err := events.NewDecoder(events.DecoderConfig{Rates: map[string]string{"USD": "1.000"}})
		require.NoError(t, err)
	})
}

func TestDecodeSource(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	sourced := func(src, seq string) string { return without("", `"source":`+src+`,"source_seq":`+seq) }
	want := func(src string, seq int64) events.Event {
		return events.Event{ID: "e-1", Type: events.TypePurchase, CustomerID: "c-1", Time: ts("2024-05-01T10:00:00Z"),
			Source: src, SourceSeq: seq, Purchase: events.Purchase{OrderID: "o-1", Amount: 1234, Currency: "USD"}}
	}
	const ce = `{"specversion":"1.0","id":"e-1","source":"/shop/eu","type":"com.example.shop.purchase","time":"2024-05-01T10:00:00Z","subject":"c-1",`
	binary := binaryHeaders("ce_specversion", "1.0", "ce_id", "e-1", "ce_type", "purchase", "ce_source", "/shop/eu",
		"ce_time", "2024-05-01T10:00:00Z", "ce_subject", "c-1")
	valid := []struct {
		name    string
		value   string
		headers []events.Header
		want    events.Event
	}{
		{"absent", without("", ""), nil, want("", 0)},
		{"both null", sourced("null", "null"), nil, want("", 0)},
		{"number", sourced(`"history"`, "1714557600000000"), nil, want("history", 1714557600000000)},
		{"string of digits", sourced(`"shop-2023.v2_a"`, `"7"`), nil, want("shop-2023.v2_a", 7)},
		{"smallest and largest", sourced(`"`+strings.Repeat("x", 62)+`"`, "9007199254740991"), nil, want(strings.Repeat("x", 62), 9007199254740991)},
		// a producer naming itself in a field called source
		{"source alone is ignored", without("", `"source":"/shop/eu"`), nil, want("", 0)},
		{"source with a null source_seq is ignored", sourced(`"web shop"`, "null"), nil, want("", 0)},
		{"structured: data.source alone is ignored", ce + `"data":{"order_id":"o-1","amount":"12.34","currency":"USD","source":7}}`, nil, want("", 0)},
		{"escapes", sourced(`"hist\u006fry"`, `"1\u0032"`), nil, want("history", 12)},
		{"one", sourced(`"h"`, "1"), nil, want("h", 1)},
		{"structured: in data; the CloudEvents source is another thing", ce +
			`"data":{"order_id":"o-1","amount":"12.34","currency":"USD","source":"history","source_seq":42}}`, nil, want("history", 42)},
		{"structured without", ce + `"data":{"order_id":"o-1","amount":"12.34","currency":"USD"},"source_seq":1}`, nil, want("", 0)},
		{"binary: in the value", `{"order_id":"o-1","amount":"12.34","currency":"USD","source":"history","source_seq":"42"}`, binary, want("history", 42)},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Decode([]byte("c-1"), []byte(tt.value), tt.headers)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	const srcRule = "must be 1 to 62 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
	const seqRule = "must be an integer from 1 to 9007199254740991: a JSON number without fraction or exponent, or a string of digits"
	seqCase := func(name, seq string) errCase {
		return errCase{name: "source_seq " + name, value: sourced(`"history"`, seq), field: "source_seq", reason: events.ReasonInvalidField, rule: seqRule}
	}
	srcCase := func(name, src string) errCase {
		return errCase{name: "source " + name, value: sourced(src, "1"), field: "source", reason: events.ReasonInvalidField, rule: srcRule}
	}
	tests := []errCase{
		{name: "source_seq without source", value: without("", `"source_seq":1`), field: "source", reason: events.ReasonMissingField, rule: "is required when source_seq is present"},
		{name: "source null", value: sourced("null", "1"), field: "source", reason: events.ReasonMissingField, rule: "is required when source_seq is present"},
		{name: "source number", value: sourced("7", "1"), field: "source", reason: events.ReasonInvalidField, rule: "must be a string"},
		{name: "source duplicate", value: without("", `"source":"a","source_seq":1,"source":"a"`), field: "source", reason: events.ReasonDuplicateField, rule: "at most once"},
		{name: "source_seq duplicate", value: without("", `"source":"a","source_seq":1,"source_seq":1`), field: "source_seq", reason: events.ReasonDuplicateField, rule: "at most once"},
		srcCase("empty", `""`),
		srcCase("63 bytes", `"`+strings.Repeat("x", 63)+`"`),
		srcCase("slash", `"/shop/eu"`),
		srcCase("space", `"my shop"`),
		srcCase("non-ASCII", `"caf\u00e9"`),
		srcCase("invalid UTF-8", "\"a\xff\""),
		srcCase("lone surrogate", `"a\ud800"`),
		seqCase("zero", "0"),
		seqCase("negative", "-1"),
		seqCase("fraction", "1.5"),
		seqCase("whole fraction", "1.0"),
		seqCase("exponent", "1e3"),
		seqCase("2^53", "9007199254740992"),
		seqCase("20 digits", "12345678901234567890"),
		seqCase("empty string", `""`),
		seqCase("string with a leading zero", `"007"`),
		seqCase("string zero", `"0"`),
		seqCase("string with a sign", `"+1"`),
		seqCase("string with letters", `"12a"`),
		seqCase("string with spaces", `" 12"`),
		seqCase("string 2^53", `"9007199254740992"`),
		seqCase("string with a lone surrogate", `"12\ud800"`),
		seqCase("bool", "true"),
		seqCase("object", `{}`),
		{name: "structured: data.source_seq invalid", value: ce + `"data":{"order_id":"o-1","amount":"12.34","currency":"USD","source":"history","source_seq":0}}`,
			field: "data.source_seq", reason: events.ReasonInvalidField, rule: seqRule},
		{name: "binary: source in the value invalid", headers: binary, value: `{"order_id":"o-1","amount":"12.34","currency":"USD","source":"/shop","source_seq":1}`,
			field: "source", reason: events.ReasonInvalidField, rule: srcRule},
	}
	runErrorCases(t, d, tests)
}

func TestValidSource(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"history", "a", "Shop-2023.v2_x", strings.Repeat("x", events.MaxSourceBytes)} {
		require.True(t, events.ValidSource(s), s)
	}
	for _, s := range []string{"", "/shop", "a b", "café", "a:b", strings.Repeat("x", events.MaxSourceBytes+1)} {
		require.False(t, events.ValidSource(s), s)
	}
}
