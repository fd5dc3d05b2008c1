package events

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the canonical schema v1 JSON encoding of e to dst and
// returns the extended buffer. It is the input format the load generator and
// the history importer produce:
//
//	{"schema":1,"id":"e-1","type":"purchase","customer_id":"c-42","time":"2024-05-01T12:30:00Z",
//	 "order_id":"o-7","kind":"sale","amount":"12.34","currency":"USD"}
//
// Amounts are minor units of the base currency already, so they are written
// as exact decimals with minorUnits places in baseCurrency, whatever
// e.Purchase.Currency says. Optional fields are written only when set
// (source and source_seq when Source is non-empty, margin when HasMargin,
// items when non-zero, strings when non-empty).
// Time is written in UTC with up to nanosecond precision.
//
// A Decoder with the same base currency and minor units decodes the result
// of a valid event back to an equal Event, with Purchase.Currency set to the
// base currency.
func (e Event) AppendJSON(dst []byte, minorUnits int, baseCurrency string) []byte {
	dst = append(dst, `{"schema":1,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, e.Type.String())
	dst = append(dst, `,"customer_id":`...)
	dst = appendString(dst, e.CustomerID)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, e.Time)
	if e.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, e.Source)
		dst = append(dst, `,"source_seq":`...)
		dst = strconv.AppendInt(dst, e.SourceSeq, 10)
	}
	switch e.Type {
	case TypePurchase:
		p := &e.Purchase
		dst = append(dst, `,"order_id":`...)
		dst = appendString(dst, p.OrderID)
		if p.Refund {
			dst = append(dst, `,"kind":"refund"`...)
		} else {
			dst = append(dst, `,"kind":"sale"`...)
		}
		dst = append(dst, `,"amount":"`...)
		dst = AppendMoney(dst, p.Amount, minorUnits)
		dst = append(dst, `","currency":`...)
		dst = appendString(dst, baseCurrency)
		if p.HasMargin {
			dst = append(dst, `,"margin":"`...)
			dst = AppendMoney(dst, p.Margin, minorUnits)
			dst = append(dst, '"')
		}
		if p.Items != 0 {
			dst = append(dst, `,"items":`...)
			dst = strconv.AppendInt(dst, p.Items, 10)
		}
		dst = appendOptString(dst, `,"channel":`, p.Channel)
	case TypeComplaint:
		c := &e.Complaint
		dst = append(dst, `,"complaint_id":`...)
		dst = appendString(dst, c.ComplaintID)
		dst = append(dst, `,"severity":`...)
		dst = appendString(dst, c.Severity.String())
		if c.Resolved {
			dst = append(dst, `,"status":"resolved"`...)
		} else {
			dst = append(dst, `,"status":"opened"`...)
		}
		dst = appendOptString(dst, `,"category":`, c.Category)
		dst = appendOptString(dst, `,"channel":`, c.Channel)
	case TypeContact:
		c := &e.Contact
		dst = append(dst, `,"contact_id":`...)
		dst = appendString(dst, c.ContactID)
		dst = append(dst, `,"channel":`...)
		dst = appendString(dst, c.Channel)
		if c.Inbound {
			dst = append(dst, `,"direction":"inbound"`...)
		} else {
			dst = append(dst, `,"direction":"outbound"`...)
		}
		dst = appendOptString(dst, `,"campaign_id":`, c.CampaignID)
		dst = appendOptString(dst, `,"outcome":`, c.Outcome)
	}
	return append(dst, '}')
}

func appendOptString(dst []byte, prefix, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(append(dst, prefix...), s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters, '"', '\\',
// U+2028 and U+2029 are escaped; invalid UTF-8 bytes become U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime appends t in UTC as an RFC 3339 JSON string with up to
// nanosecond precision, or null for the zero time.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendFloat appends f as a JSON number the way encoding/json formats a
// float64 (shortest representation, exponent for very small or large
// magnitudes). NaN and infinities, which JSON cannot represent, become null.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
