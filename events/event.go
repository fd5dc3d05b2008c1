package events

import "time"

// Type is the kind of an input event.
type Type uint8

// Input event types.
const (
	TypeUnknown Type = iota
	TypePurchase
	TypeComplaint
	TypeContact
)

// String returns the wire name of t ("purchase", "complaint", "contact").
func (t Type) String() string {
	switch t {
	case TypePurchase:
		return "purchase"
	case TypeComplaint:
		return "complaint"
	case TypeContact:
		return "contact"
	default:
		return "unknown"
	}
}

// Event is one decoded, validated input event. Exactly one of Purchase,
// Complaint and Contact is meaningful, chosen by Type. Values, not pointers,
// so decoding allocates as little as possible.
type Event struct {
	ID         string    // unique per event, required
	Type       Type      // purchase, complaint or contact
	CustomerID string    // 1..256 bytes of UTF-8, equals the Kafka key when a key is set
	Time       time.Time // event time (UTC), not more than the configured skew in the future

	// Source names a producer that numbers its events per customer, such
	// as the history importer; "" when the event has none. SourceSeq is the
	// event's number in that source (1..MaxSourceSeq, 0 without a source):
	// the processor applies an event of a source only if its SourceSeq is
	// greater than that of every event of the source it applied before for
	// the customer.
	Source    string
	SourceSeq int64

	Purchase  Purchase
	Complaint Complaint
	Contact   Contact
}

// Purchase is a sale or a refund. Amounts are integers in minor units of the
// configured base currency (for example cents), converted exactly from the
// decimal on the wire.
type Purchase struct {
	OrderID   string
	Refund    bool   // "kind": "refund"; reduces monetary value
	Amount    int64  // > 0, base-currency minor units
	Currency  string // ISO 4217 code the event was sent in
	Margin    int64  // base-currency minor units; meaningful when HasMargin
	HasMargin bool
	Items     int64
	Channel   string
}

// Severity of a complaint, ordered.
type Severity uint8

// Complaint severities.
const (
	SeverityUnknown Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// String returns the wire name of s.
func (s Severity) String() string {
	switch s {
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityCritical:
		return "critical"
	default:
		return "unknown"
	}
}

// Complaint is opened or resolved.
type Complaint struct {
	ComplaintID string
	Severity    Severity
	Category    string
	Resolved    bool // "status": "resolved"; false means "opened"
	Channel     string
}

// Contact is a touch point between the company and the customer.
type Contact struct {
	ContactID  string
	Channel    string // email, sms, phone, push, visit, ...
	Inbound    bool   // "direction": "inbound"
	CampaignID string
	Outcome    string // free text, e.g. "opened", "clicked", "converted"
}

// ParseType returns the Type with wire name s ("purchase", "complaint",
// "contact"), or TypeUnknown.
func ParseType(s string) Type {
	return parseType([]byte(s), false)
}

// ParseSeverity returns the Severity with wire name s ("low", "medium",
// "high", "critical"), or SeverityUnknown.
func ParseSeverity(s string) Severity {
	switch s {
	case "low":
		return SeverityLow
	case "medium":
		return SeverityMedium
	case "high":
		return SeverityHigh
	case "critical":
		return SeverityCritical
	}
	return SeverityUnknown
}
