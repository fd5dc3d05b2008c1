// Package events defines clienting's wire formats: the input events that
// e-commerce platforms publish (purchases, complaints, contacts), their
// decoder and canonical encoder, and the output events clienting publishes
// (segment changes, churn-risk changes, complaint recoveries).
//
// The package does no I/O. The processor hands each Kafka record to
// [Decoder.Decode] and publishes the bytes of [SegmentChange.AppendJSON],
// [ChurnRisk.AppendJSON] and [Recovery.AppendJSON].
//
// # Input: schema v1
//
// One Kafka message carries one event as a JSON object. The record key is
// the customer id (the partitioning, and so the per-customer ordering,
// relies on it): when the key is non-empty it must equal customer_id.
//
//	{"schema": 1, "id": "e-1001", "type": "purchase", "customer_id": "c-42",
//	 "time": "2024-05-01T12:30:00Z", "order_id": "o-7", "amount": "12.34",
//	 "currency": "EUR", "margin": "3.10", "items": 2, "channel": "web"}
//
// Common fields:
//
//   - schema: optional; absent or the number 1. Any other value is
//     rejected as unsupported_version.
//   - id: required string, 1..256 bytes, unique per event (the processor
//     uses it to drop producer duplicates).
//   - type: required, "purchase", "complaint" or "contact".
//   - customer_id: required string, 1..256 bytes of valid UTF-8; any
//     characters, including braces, spaces and emoji.
//   - time: required RFC 3339 date-time ("T" and "Z" may be lower case,
//     up to 9 fraction digits, no leap second), not before 1970 and not more
//     than DecoderConfig.MaxFutureSkew after the current time. Kept in UTC.
//   - source, source_seq: optional; source_seq requires source, and source
//     alone is ignored (like an unknown field). source names a producer
//     that numbers each customer's events in increasing order (the history
//     importer writes "history"): 1..62 characters of A-Z,
//     a-z, 0-9, '.', '_' and '-' ([MaxSourceBytes]). source_seq is the
//     event's number: an integer 1..2^53-1 ([MaxSourceSeq]), a JSON number
//     without fraction or exponent or a string of digits without a leading
//     zero. The processor applies an event with a source only if its
//     source_seq is greater than every source_seq of that source it
//     applied for the customer, so re-publishing a source's events is
//     harmless however long ago they were first applied.
//
// A purchase (a sale, or a refund that reduces monetary value):
//
//   - order_id: required string.
//   - amount: required decimal, > 0 (see Money below).
//   - currency: required ISO 4217 code (3 upper-case letters): the base
//     currency or one with a configured rate, else unknown_currency.
//   - kind: "sale" (default) or "refund".
//   - margin: optional decimal in the same currency, may be zero or negative.
//   - items: optional integer >= 0 (a JSON number).
//   - channel: optional string.
//
// A complaint: complaint_id (required), severity (required: "low",
// "medium", "high" or "critical"), status ("opened", the default, or
// "resolved"), category and channel (optional strings).
//
// A contact: contact_id (required), channel (required, non-empty, free
// value: "email", "sms", "phone", "push", "visit", ...), direction
// (required: "inbound" or "outbound"), campaign_id and outcome (optional
// strings).
//
// Every string field is at most 256 bytes ([MaxIDBytes]) of valid UTF-8;
// required ones must not be empty. A null value counts as absent. Unknown
// fields, including nested objects and arrays, are skipped (forward
// compatibility), and fields of the other event types are ignored; but a
// known field with the wrong JSON type, or a known field that appears twice,
// is an error naming the field. Keys are case-sensitive. The whole message
// must be one syntactically valid JSON object (RFC 8259) of at most
// DecoderConfig.MaxEventBytes.
//
// # Input: CloudEvents structured mode
//
// The same payload may be wrapped as a CloudEvents 1.0 JSON event. A message
// is in structured mode when its JSON object has a specversion member, or
// when the record's content-type header is application/cloudevents+json:
//
//	{"specversion": "1.0", "id": "e-1001", "source": "/shop/eu",
//	 "type": "com.example.shop.purchase", "time": "2024-05-01T12:30:00Z",
//	 "subject": "c-42", "datacontenttype": "application/json",
//	 "data": {"order_id": "o-7", "amount": "12.34", "currency": "EUR"}}
//
// The attributes:
//
//   - specversion must be "1.0"; source is required (not otherwise used).
//   - id, time: as in schema v1. The CloudEvents id is the event id.
//   - type: "purchase", "complaint", "contact", or a reverse-DNS name ending
//     in one of them after a dot ("com.example.shop.purchase").
//   - subject is the customer id; it may be omitted when data has
//     customer_id, and must equal it when both are present.
//   - datacontenttype: absent or application/json (parameters allowed).
//   - data: required JSON object holding the type-specific fields as in
//     schema v1, and source and source_seq when the event has them (the
//     CloudEvents source attribute is not the event's source); errors name
//     them "data.amount" and so on. data_base64 is not supported.
//
// Batched CloudEvents (application/cloudevents-batch+json) are rejected: one
// message is one event.
//
// # Input: CloudEvents binary mode
//
// Following the CloudEvents Kafka protocol binding, a record with a
// ce_specversion header is in binary mode: the attributes are the headers
// ce_specversion, ce_id, ce_source, ce_type, ce_time and ce_subject (the
// same rules as above, errors name the header), the content-type header is
// absent or application/json (or application/*+json), and the record value
// is the data object (with source and source_seq, if any). Header names are matched exactly, except content-type,
// which is matched case-insensitively. A [Header] converts from kafka-go's
// kafka.Header with events.Header(h).
//
// # Money
//
// Money is exact (DESIGN invariant 7). On the wire an amount is a decimal
// string ("12.34") or a JSON number (12.34, 12, 1e2), at most 64 characters;
// in an Event it is an int64 of minor units of the base currency
// (DecoderConfig.BaseCurrency, DecoderConfig.MinorUnits), converted with
// integer arithmetic (never float64):
//
//   - In the base currency the value must be a whole number of minor units:
//     with 2 minor units "1.005" is rejected, while "1.50", "1.500" and 1e2
//     are exact and accepted.
//   - In another currency the value is multiplied by its rate
//     (DecoderConfig.Rates, a decimal string) and rounded half to even to
//     the minor unit: with the rate "1.0837", EUR "0.50" is 54.185 US
//     cents, rounded to 54; EUR "50" is exactly 5418.5 cents, rounded to the
//     even 5418; EUR "150" is 16255.5 cents, rounded to the even 16256.
//   - A purchase amount must be greater than 0 on the wire and still after
//     rounding. A margin may be zero or negative.
//   - A result beyond ±(2^63-1) minor units is rejected.
//
// [FormatMoney] and [AppendMoney] format minor units back as exact decimals.
//
// # Errors
//
// Every decode error is a *[DecodeError] that matches [ErrInvalid] with
// errors.Is and is permanent: the processor sends the message to the
// dead-letter topic with the error's [Reason] (a small fixed set, see
// [Reasons], usable as a Prometheus label) in a header and commits. The
// message names the field, the offending value (truncated to 64 bytes) and
// the rule:
//
//	events: field "amount": value "-3": must be greater than 0
//
// # Canonical encoding
//
// [Event.AppendJSON] writes an Event as canonical schema v1 JSON, the format
// of the load generator and the history importer. Amounts are written in the
// base currency, since an Event holds them converted; decoding the result
// with the same base currency and minor units gives back an equal Event,
// except that Purchase.Currency becomes the base currency.
//
// # Output events
//
// Output events are JSON objects keyed by customer id:
//
//   - customer.segment-changes: [SegmentChange], a customer moved from one
//     segment to another in a segmentation, with the scores and metrics
//     that decided it.
//   - customer.churn-risk: [ChurnRisk], the churn-risk level changed (low,
//     medium, high), with P(alive), expected purchases, days since the last
//     purchase and CLV.
//   - customer.recovery: [Recovery], a complaint that needs a recovery
//     action, with its priority and compensation limit.
//
// Each carries a cause ({"kind":"event","event_id":...} or {"kind":"time"}),
// the event time, the time it was computed, the customer's transition
// sequence number and a deterministic id from [OutputID], so that a publish
// repeated after a crash carries the same id and consumers can drop the
// duplicate. Money is a decimal string plus a "currency" field; times are
// RFC 3339 in UTC; a missing "from" (first assignment) and a zero time are
// null.
package events
