package events_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/clienting/clienting/events"
)

func ExampleDecoder_Decode() {
	dec, err := events.NewDecoder(events.DecoderConfig{
		BaseCurrency: "USD",
		Rates:        map[string]string{"EUR": "1.0837"},
		Now:          func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	value := []byte(`{"schema":1,"id":"e-1001","type":"purchase","customer_id":"c-42",
		"time":"2024-05-01T11:30:00+02:00","order_id":"o-7","amount":"50.00","currency":"EUR"}`)
	ev, err := dec.Decode([]byte("c-42"), value, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type, ev.CustomerID, ev.Time, ev.Purchase.Amount, events.FormatMoney(ev.Purchase.Amount, dec.MinorUnits()))

	// Errors name the field, the value and the rule, and carry a bounded reason.
	_, err = dec.Decode(nil, []byte(`{"id":"e-1002","type":"purchase","customer_id":"c-42",
		"time":"2024-05-01T10:00:00Z","order_id":"o-8","amount":"1.005","currency":"USD"}`), nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, events.ErrInvalid), events.ReasonOf(err))

	// Output:
	// purchase c-42 2024-05-01 09:30:00 +0000 UTC 5418 54.18
	// events: field "amount": value "1.005": must have at most 2 decimal places in USD
	// true invalid_field
}

func ExampleOutputID() {
	// The processor derives an output event's id from the customer, the
	// stream, the customer's transition sequence and the new value, so a
	// publish retried after a crash carries the same id.
	fmt.Println(events.OutputID("c-42", "segment-changes", "7", "at_risk"))
	fmt.Println(events.OutputID("a", "bc") == events.OutputID("ab", "c"))
	// Output:
	// 75fb0eb4e996898a7b1c06d59caa5d94
	// false
}

func ExampleFormatMoney() {
	fmt.Println(events.FormatMoney(12345, 2), events.FormatMoney(-5, 2), events.FormatMoney(1200, 0))
	// Output: 123.45 -0.05 1200
}

func ExampleEvent_AppendJSON() {
	ev := events.Event{
		ID: "e-1", Type: events.TypeComplaint, CustomerID: "c-42",
		Time:      time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC),
		Complaint: events.Complaint{ComplaintID: "k-9", Severity: events.SeverityHigh, Category: "delivery"},
	}
	fmt.Println(string(ev.AppendJSON(nil, 2, "USD")))
	// Output:
	// {"schema":1,"id":"e-1","type":"complaint","customer_id":"c-42","time":"2024-05-01T12:30:00Z","complaint_id":"k-9","severity":"high","status":"opened","category":"delivery"}
}

func ExampleSegmentChange_AppendJSON() {
	c := events.SegmentChange{
		ID:           events.OutputID("c-42", "segment-changes", "1", "new"),
		CustomerID:   "c-42",
		Segmentation: "rfm",
		To:           "new",
		Cause:        events.Cause{Kind: events.CauseEvent, EventID: "e-1"},
		EventTime:    time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC),
		Time:         time.Date(2024, 5, 1, 12, 30, 0, 250_000_000, time.UTC),
		Sequence:     1,
		Scores:       []events.Score{{Name: "r", Value: 5}, {Name: "f", Value: 1}},
		Metrics:      []events.Metric{{Name: "recency_days", Value: 0}},
	}
	fmt.Println(string(c.AppendJSON(nil)))
	// Output:
	// {"id":"2e1c14588ce17e334938fc291a34b300","customer_id":"c-42","segmentation":"rfm","from":null,"to":"new","cause":{"kind":"event","event_id":"e-1"},"event_time":"2024-05-01T12:30:00Z","time":"2024-05-01T12:30:00.25Z","sequence":1,"holdout":false,"config_version":"","scores":{"r":5,"f":1},"metrics":{"recency_days":0}}
}
