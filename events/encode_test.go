package events_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

func TestEventAppendJSON(t *testing.T) {
	t.Parallel()
	ev := events.Event{ID: "e-1", Type: events.TypePurchase, CustomerID: "{c} 😀", Time: time.Date(2024, 5, 1, 14, 30, 0, 120_000_000, time.FixedZone("", 2*3600)),
		Purchase: events.Purchase{OrderID: "o-7", Refund: true, Amount: 1234, Currency: "EUR", Margin: -5, HasMargin: true, Items: 2, Channel: "web"}}
	got := string(ev.AppendJSON([]byte("> "), 2, "USD"))
	require.Equal(t, `> {"schema":1,"id":"e-1","type":"purchase","customer_id":"{c} 😀","time":"2024-05-01T12:30:00.12Z",`+
		`"order_id":"o-7","kind":"refund","amount":"12.34","currency":"USD","margin":"-0.05","items":2,"channel":"web"}`, got)

	c := events.Event{ID: "e-2", Type: events.TypeComplaint, CustomerID: "c", Time: evTime,
		Complaint: events.Complaint{ComplaintID: "k", Severity: events.SeverityMedium}}
	require.Equal(t, `{"schema":1,"id":"e-2","type":"complaint","customer_id":"c","time":"2024-05-01T12:30:00Z",`+
		`"complaint_id":"k","severity":"medium","status":"opened"}`, string(c.AppendJSON(nil, 2, "USD")))

	k := events.Event{ID: "e-3", Type: events.TypeContact, CustomerID: "c", Time: evTime,
		Contact: events.Contact{ContactID: "t", Channel: "sms", Inbound: true, Outcome: "replied"}}
	require.Equal(t, `{"schema":1,"id":"e-3","type":"contact","customer_id":"c","time":"2024-05-01T12:30:00Z",`+
		`"contact_id":"t","channel":"sms","direction":"inbound","outcome":"replied"}`, string(k.AppendJSON(nil, 2, "USD")))

	s := events.Event{ID: "e-4", Type: events.TypePurchase, CustomerID: "c", Time: evTime, Source: "history", SourceSeq: events.MaxSourceSeq,
		Purchase: events.Purchase{OrderID: "o", Amount: 1}}
	require.Equal(t, `{"schema":1,"id":"e-4","type":"purchase","customer_id":"c","time":"2024-05-01T12:30:00Z",`+
		`"source":"history","source_seq":9007199254740991,"order_id":"o","kind":"sale","amount":"0.01","currency":"USD"}`, string(s.AppendJSON(nil, 2, "USD")))
}

// TestEventRoundTrip decodes wire messages, re-encodes them canonically and
// decodes them again: the events must be equal (amounts are in the base
// currency after the first decode).
func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	inputs := []string{
		purchaseWith(`"12.34"`, "USD", ""),
		purchaseWith(`"10.05"`, "EUR", `"kind":"refund","margin":"-50","items":0,"channel":"\u00e9\n"`),
		purchaseWith(`"92233720368547758.07"`, "USD", `"margin":"-92233720368547758.07","items":9223372036854775807`),
		purchaseWith(`1e-2`, "USD", `"margin":0`),
		complaintWith(`"complaint_id":"k\"1","severity":"critical","status":"resolved","category":"late","channel":"phone"`),
		complaintWith(`"complaint_id":"k","severity":"low"`),
		contactWith(`"contact_id":"t","channel":"visit","direction":"outbound","campaign_id":"\u2028","outcome":"\u0000"`),
		without("customer_id", `"customer_id":"`+strings.Repeat("😀", 64)+`"`),
		without("time", `"time":"1970-01-01T00:00:00.000000001-00:00"`),
		without("time", `"time":"2024-05-01T12:05:00+00:01"`),
		without("", `"source":"hist\u006fry","source_seq":"1714557600000000"`),
		`{"specversion":"1.0","id":"e","source":"s","type":"a.b.contact","time":"2024-05-01T10:00:00Z","subject":" ",` +
			`"data":{"contact_id":"t","channel":"email","direction":"inbound"}}`,
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			ev, err := d.Decode(nil, []byte(in), nil)
			require.NoError(t, err)
			enc := ev.AppendJSON(nil, d.MinorUnits(), d.BaseCurrency())
			back, err := d.Decode([]byte(ev.CustomerID), enc, nil)
			require.NoError(t, err, "%s", enc)
			if ev.Type == events.TypePurchase {
				ev.Purchase.Currency = d.BaseCurrency()
			}
			require.Equal(t, ev, back, "%s", enc)
			require.Equal(t, string(enc), string(back.AppendJSON(nil, d.MinorUnits(), d.BaseCurrency())), "canonical form is a fixed point")
		})
	}
}
