package events

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrInvalid is matched by every error Decode returns:
// errors.Is(err, ErrInvalid) is true for all of them. Every decode error is
// permanent: the same message will never decode, so the processor
// dead-letters it and commits its offset.
var ErrInvalid = errors.New("events: invalid event")

// Reason classifies a decode error. The set is small and fixed (see Reasons),
// so it can be used as a Prometheus label and as the reason header of a
// dead-lettered message.
type Reason string

// Decode error reasons.
const (
	ReasonTooLarge               Reason = "too_large"                // the message exceeds DecoderConfig.MaxEventBytes
	ReasonInvalidJSON            Reason = "invalid_json"             // not a JSON object, or malformed JSON
	ReasonMissingField           Reason = "missing_field"            // a required field is absent or null
	ReasonDuplicateField         Reason = "duplicate_field"          // a known field appears twice
	ReasonInvalidField           Reason = "invalid_field"            // a field has the wrong JSON type or breaks a rule
	ReasonUnknownType            Reason = "unknown_type"             // type is not purchase, complaint or contact
	ReasonUnsupportedVersion     Reason = "unsupported_version"      // schema or specversion is not supported
	ReasonUnsupportedContentType Reason = "unsupported_content_type" // content type is not JSON
	ReasonFutureTime             Reason = "future_time"              // time is too far in the future
	ReasonUnknownCurrency        Reason = "unknown_currency"         // currency is neither the base currency nor in Rates
	ReasonKeyMismatch            Reason = "key_mismatch"             // the Kafka key differs from the customer id
	ReasonOverflow               Reason = "overflow"                 // applying the event would take a sum past the 64-bit range
)

// Reasons returns every Reason, for example to initialize metric label values.
func Reasons() []Reason {
	return []Reason{
		ReasonTooLarge, ReasonInvalidJSON, ReasonMissingField, ReasonDuplicateField,
		ReasonInvalidField, ReasonUnknownType, ReasonUnsupportedVersion,
		ReasonUnsupportedContentType, ReasonFutureTime, ReasonUnknownCurrency,
		ReasonKeyMismatch,
		ReasonOverflow,
	}
}

// ReasonOf returns the Reason of a decode error, or "" if err does not wrap a
// *DecodeError.
func ReasonOf(err error) Reason {
	if de, ok := errors.AsType[*DecodeError](err); ok {
		return de.Reason
	}
	return ""
}

// DecodeError describes why a message was rejected: which field, which value
// and which rule it broke.
type DecodeError struct {
	Field  string // wire name of the field, e.g. "amount", "data.amount" or "ce_time"; "" for the message as a whole
	Value  string // offending value as found on the wire (possibly escaped), truncated to 64 bytes; "" if absent
	Rule   string // the rule that was broken, e.g. "must be greater than 0"
	Reason Reason // bounded classification
}

// maxValueBytes is how much of an offending value an error message quotes.
const maxValueBytes = 64

// Error formats the error as
//
//	events: field "amount": value "-3": must be greater than 0
//
// omitting the field or value part when they are empty.
func (e *DecodeError) Error() string {
	b := make([]byte, 0, 32+len(e.Field)+len(e.Value)+len(e.Rule))
	b = append(b, "events: "...)
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	if e.Value != "" {
		b = append(b, "value "...)
		b = strconv.AppendQuote(b, e.Value)
		b = append(b, ": "...)
	}
	b = append(b, e.Rule...)
	return string(b)
}

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) holds.
func (e *DecodeError) Unwrap() error { return ErrInvalid }

// truncate shortens v to at most maxValueBytes, cutting at a UTF-8 rune
// boundary (for valid UTF-8) and marking the cut with "...".
func truncate(v []byte) string {
	if len(v) <= maxValueBytes {
		return string(v)
	}
	n := maxValueBytes
	for n > maxValueBytes-utf8.UTFMax && n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return string(v[:n]) + "..."
}

func newError(reason Reason, field string, value []byte, rule string) *DecodeError {
	return &DecodeError{Field: field, Value: truncate(value), Rule: rule, Reason: reason}
}
