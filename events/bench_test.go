package events_test

import (
	"testing"

	"github.com/clienting/clienting/events"
)

func BenchmarkDecode(b *testing.B) {
	d := newDecoder(b)
	binary := []events.Header{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte("e-1001")},
		{Key: "ce_type", Value: []byte("com.example.shop.purchase")}, {Key: "ce_source", Value: []byte("/shop/eu")},
		{Key: "ce_time", Value: []byte("2024-05-01T10:00:00.123Z")}, {Key: "ce_subject", Value: []byte("customer-000042")},
		{Key: "content-type", Value: []byte("application/json")},
	}
	cases := []struct {
		name    string
		value   string
		headers []events.Header
	}{
		{"v1/purchase", `{"schema":1,"id":"e-1001","type":"purchase","customer_id":"customer-000042","time":"2024-05-01T10:00:00.123Z",` +
			`"order_id":"o-778812","amount":"129.90","currency":"USD","margin":"31.20","items":3,"channel":"web"}`, nil},
		{"v1/purchase-eur-number", `{"schema":1,"id":"e-1001","type":"purchase","customer_id":"customer-000042","time":"2024-05-01T10:00:00.123+02:00",` +
			`"order_id":"o-778812","amount":129.9,"currency":"EUR","kind":"refund","margin":-3.2}`, nil},
		{"v1/purchase-sourced", `{"schema":1,"id":"e-1001","type":"purchase","customer_id":"customer-000042","time":"2024-05-01T10:00:00.123Z",` +
			`"source":"history","source_seq":1714557600123000,"order_id":"o-778812","amount":"129.90","currency":"USD","items":3}`, nil},
		{"v1/complaint", `{"schema":1,"id":"e-1002","type":"complaint","customer_id":"customer-000042","time":"2024-05-01T10:00:00Z",` +
			`"complaint_id":"k-1","severity":"high","category":"delivery","status":"opened","channel":"phone"}`, nil},
		{"v1/contact", `{"schema":1,"id":"e-1003","type":"contact","customer_id":"customer-000042","time":"2024-05-01T10:00:00Z",` +
			`"contact_id":"m-1","channel":"email","direction":"outbound","campaign_id":"spring-24","outcome":"opened"}`, nil},
		{"v1/purchase-unknown-fields", `{"schema":1,"id":"e-1001","type":"purchase","customer_id":"customer-000042","time":"2024-05-01T10:00:00.123Z",` +
			`"order_id":"o-778812","amount":"129.90","currency":"USD","lines":[{"sku":"A-1","qty":1,"price":"99.90"},{"sku":"B-2","qty":2,"price":"15.00"}],` +
			`"shipping":{"country":"DE","city":"K\u00f6ln"}}`, nil},
		{"cloudevents/structured", `{"specversion":"1.0","id":"e-1001","source":"/shop/eu","type":"com.example.shop.purchase",` +
			`"time":"2024-05-01T10:00:00.123Z","subject":"customer-000042","datacontenttype":"application/json",` +
			`"data":{"order_id":"o-778812","amount":"129.90","currency":"USD","items":3}}`, nil},
		{"cloudevents/binary", `{"order_id":"o-778812","amount":"129.90","currency":"USD","items":3}`, binary},
	}
	key := []byte("customer-000042")
	for _, c := range cases {
		value := []byte(c.value)
		if _, err := d.Decode(key, value, c.headers); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if _, err := d.Decode(key, value, c.headers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := events.Event{ID: "e-1001", Type: events.TypePurchase, CustomerID: "customer-000042", Time: testNow,
		Purchase: events.Purchase{OrderID: "o-778812", Amount: 12990, Currency: "USD", Margin: 3120, HasMargin: true, Items: 3, Channel: "web"}}
	c := events.SegmentChange{ID: events.OutputID("customer-000042", "segment-changes", "7", "at_risk"), CustomerID: "customer-000042",
		Segmentation: "rfm", From: "loyal", To: "at_risk", Cause: events.Cause{Kind: events.CauseTime}, EventTime: testNow, Time: testNow,
		Sequence: 7, Scores: []events.Score{{"r", 1}, {"f", 4}, {"m", 4}, {"t", 5}}, Metrics: []events.Metric{{"recency_days", 95.5}, {"money", 1234.5}}}
	var buf []byte
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = ev.AppendJSON(buf[:0], 2, "USD")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("segment-change", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = c.AppendJSON(buf[:0])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("output-id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = events.OutputID("customer-000042", "segment-changes", "7", "at_risk")
		}
	})
}
