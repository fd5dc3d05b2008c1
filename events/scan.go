package events

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small single-pass JSON scanner for the flat event schema.
// It checks the syntax of the whole document (RFC 8259), records the raw
// value of every known field of one object and skips everything else,
// without allocating.

// kind is the JSON type of a scanned value.
type kind uint8

const (
	kindNone kind = iota // field absent
	kindString
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindObject
	kindArray
)

// token is the raw value of one known field.
type token struct {
	// raw is the value's text: for strings the bytes between the quotes
	// (still escaped when esc is set), for objects and arrays the text
	// including the brackets, otherwise the literal or number text.
	raw  []byte
	kind kind
	esc  bool  // raw is a string containing backslash escapes
	n    uint8 // occurrences of the field (saturating): more than 1 is a duplicate
}

// present reports whether the field has a non-null value.
func (t *token) present() bool { return t.kind != kindNone && t.kind != kindNull }

// field identifies a known field.
type field uint8

// Known fields, of the schema v1 body, the CloudEvents envelope and the
// type-specific payloads.
const (
	fID field = iota
	fType
	fCustomerID
	fTime
	fSchema
	fSpecVersion
	fSource // the CloudEvents source attribute; in the event itself, the producer's source
	fSourceSeq
	fSubject
	fDataContentType
	fData
	fDataBase64
	fOrderID
	fAmount
	fCurrency
	fKind
	fMargin
	fItems
	fChannel
	fComplaintID
	fSeverity
	fCategory
	fStatus
	fContactID
	fDirection
	fCampaignID
	fOutcome
	numFields
)

// fieldNames are the wire names of the fields.
var fieldNames = [numFields]string{
	fID: "id", fType: "type", fCustomerID: "customer_id", fTime: "time",
	fSchema: "schema", fSpecVersion: "specversion", fSource: "source", fSourceSeq: "source_seq",
	fSubject: "subject", fDataContentType: "datacontenttype", fData: "data",
	fDataBase64: "data_base64", fOrderID: "order_id", fAmount: "amount",
	fCurrency: "currency", fKind: "kind", fMargin: "margin", fItems: "items",
	fChannel: "channel", fComplaintID: "complaint_id", fSeverity: "severity",
	fCategory: "category", fStatus: "status", fContactID: "contact_id",
	fDirection: "direction", fCampaignID: "campaign_id", fOutcome: "outcome",
}

// lookupField maps a key to a known field. Keys are case-sensitive.
func lookupField(key []byte) (field, bool) {
	switch string(key) {
	case "id":
		return fID, true
	case "type":
		return fType, true
	case "customer_id":
		return fCustomerID, true
	case "time":
		return fTime, true
	case "schema":
		return fSchema, true
	case "specversion":
		return fSpecVersion, true
	case "source":
		return fSource, true
	case "source_seq":
		return fSourceSeq, true
	case "subject":
		return fSubject, true
	case "datacontenttype":
		return fDataContentType, true
	case "data":
		return fData, true
	case "data_base64":
		return fDataBase64, true
	case "order_id":
		return fOrderID, true
	case "amount":
		return fAmount, true
	case "currency":
		return fCurrency, true
	case "kind":
		return fKind, true
	case "margin":
		return fMargin, true
	case "items":
		return fItems, true
	case "channel":
		return fChannel, true
	case "complaint_id":
		return fComplaintID, true
	case "severity":
		return fSeverity, true
	case "category":
		return fCategory, true
	case "status":
		return fStatus, true
	case "contact_id":
		return fContactID, true
	case "direction":
		return fDirection, true
	case "campaign_id":
		return fCampaignID, true
	case "outcome":
		return fOutcome, true
	}
	return 0, false
}

// fields holds the known fields of one JSON object, indexed by field.
type fields [numFields]token

// maxDepth bounds the nesting of skipped values.
const maxDepth = 64

func syntaxError(off int, msg string) *DecodeError {
	return &DecodeError{
		Rule:   "invalid JSON at byte offset " + strconv.Itoa(off) + ": " + msg,
		Reason: ReasonInvalidJSON,
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanDocument scans b, which must hold exactly one JSON object (with
// optional surrounding whitespace), into f.
func scanDocument(b []byte, f *fields) error {
	i := skipSpace(b, 0)
	if i == len(b) {
		return syntaxError(i, "empty message, want a JSON object")
	}
	if b[i] != '{' {
		return syntaxError(i, "want a JSON object")
	}
	end, err := scanObject(b, i, f)
	if err != nil {
		return err
	}
	if end = skipSpace(b, end); end != len(b) {
		return syntaxError(end, "unexpected data after the JSON object")
	}
	return nil
}

// scanObject scans the object starting at b[i] == '{' and records its known
// fields in f. It returns the offset just past the object.
func scanObject(b []byte, i int, f *fields) (int, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, unexpected(b, i, "want a string key")
		}
		end, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, unexpected(b, i, "want ':' after a key")
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, unexpected(b, i, "want a value")
		}
		t := token{}
		switch c := b[i]; {
		case c == '"':
			end, t.esc, err = scanString(b, i)
			t.kind = kindString
		case c == '{':
			end, err = skipValue(b, i, 1)
			t.kind = kindObject
		case c == '[':
			end, err = skipValue(b, i, 1)
			t.kind = kindArray
		case c == '-' || c >= '0' && c <= '9':
			end, err = scanNumber(b, i)
			t.kind = kindNumber
		default:
			end, t.kind, err = scanLiteral(b, i)
		}
		if err != nil {
			return 0, err
		}
		if t.raw = b[i:end]; t.kind == kindString {
			t.raw = b[i+1 : end-1]
		}
		if fld, ok := knownKey(key, esc); ok {
			p := &f[fld]
			n := p.n
			if n == 0 {
				*p = t
			}
			if n < 255 {
				p.n = n + 1
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return 0, unexpected(b, i, "want ',' or '}'")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, unexpected(b, i, "want ',' or '}'")
		}
	}
}

// knownKey looks up a key, unescaping it first if needed.
func knownKey(key []byte, esc bool) (field, bool) {
	if !esc {
		return lookupField(key)
	}
	var buf [32]byte
	if len(key) > 6*len(buf) { // longer than any known key even fully escaped
		return 0, false
	}
	k, ok := appendUnescaped(buf[:0], key)
	if !ok {
		return 0, false
	}
	return lookupField(k)
}

func unexpected(b []byte, i int, want string) *DecodeError {
	if i >= len(b) {
		return syntaxError(i, "unexpected end of input, "+want)
	}
	return syntaxError(i, "unexpected character "+strconv.QuoteRuneToASCII(rune(b[i]))+", "+want)
}

// scanString scans the string starting at b[i] == '"'. It returns the offset
// just past the closing quote and whether the string contains escapes.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue // the common case, first
		}
		switch {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(b) {
				return 0, false, syntaxError(j, "unterminated string")
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return 0, false, syntaxError(j, "unterminated string")
				}
				for k := j + 1; k <= j+4; k++ {
					if unhex(b[k]) < 0 {
						return 0, false, syntaxError(k, "invalid \\u escape")
					}
				}
				j += 4
			default:
				return 0, false, syntaxError(j, "invalid escape "+strconv.QuoteRuneToASCII(rune(b[j])))
			}
		case c < 0x20:
			return 0, false, syntaxError(j, "control character in string")
		}
	}
	return 0, false, syntaxError(len(b), "unterminated string")
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// scanNumber scans a JSON number starting at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	default:
		return 0, syntaxError(j, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if j == k {
			return 0, syntaxError(j, "invalid number: want a digit after '.'")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if j == k {
			return 0, syntaxError(j, "invalid number: want a digit in the exponent")
		}
	}
	return j, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanLiteral scans true, false or null at b[i].
func scanLiteral(b []byte, i int) (int, kind, error) {
	rest := b[i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		return i + 4, kindTrue, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		return i + 5, kindFalse, nil
	case len(rest) >= 4 && string(rest[:4]) == "null":
		return i + 4, kindNull, nil
	}
	return 0, kindNone, unexpected(b, i, "want a value")
}

// skipValue checks and skips the value at b[i]; depth is the nesting depth
// of the value (the top-level object's fields have depth 1).
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, unexpected(b, i, "want a value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == '{' || c == '[':
		if depth > maxDepth {
			return 0, syntaxError(i, "nested too deeply")
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, unexpected(b, i, "want a string key")
				}
				end, _, err := scanString(b, i)
				if err != nil {
					return 0, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, unexpected(b, i, "want ':' after a key")
				}
				i = skipSpace(b, i+1)
			}
			end, err := skipValue(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, nil
			}
			return 0, unexpected(b, i, "want ',' or '"+string(closer)+"'")
		}
	default:
		end, _, err := scanLiteral(b, i)
		return end, err
	}
}

// appendUnescaped appends the unescaped form of the string content raw
// (as validated by scanString) to dst. It reports false if raw contains an
// escaped lone UTF-16 surrogate, which has no UTF-8 encoding.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		r, n, ok := unescapeAt(raw, i)
		if !ok {
			return dst, false
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst, true
}

// unescapeAt decodes the escape sequence at raw[i] == '\\' and returns the
// rune and the length of the sequence. A \u escape of a UTF-16 surrogate must
// be followed by its pair.
func unescapeAt(raw []byte, i int) (rune, int, bool) {
	switch raw[i+1] {
	case '"':
		return '"', 2, true
	case '\\':
		return '\\', 2, true
	case '/':
		return '/', 2, true
	case 'b':
		return '\b', 2, true
	case 'f':
		return '\f', 2, true
	case 'n':
		return '\n', 2, true
	case 'r':
		return '\r', 2, true
	case 't':
		return '\t', 2, true
	}
	r := hex4(raw[i+2 : i+6])
	if !utf16.IsSurrogate(r) {
		return r, 6, true
	}
	if r >= 0xdc00 || i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
		return 0, 0, false
	}
	r2 := hex4(raw[i+8 : i+12])
	if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
		return d, 12, true
	}
	return 0, 0, false
}

func hex4(b []byte) rune {
	return rune(unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3]))
}

// stringInfo returns the length in bytes of the unescaped string and whether
// it is valid UTF-8 (no invalid raw bytes, no lone escaped surrogates).
func stringInfo(t *token) (int, bool) {
	if !t.esc {
		return len(t.raw), utf8.Valid(t.raw)
	}
	raw, n := t.raw, 0
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			if !utf8.Valid(raw[i:j]) {
				return 0, false
			}
			n += j - i
			i = j
			continue
		}
		r, k, ok := unescapeAt(raw, i)
		if !ok {
			return 0, false
		}
		n += utf8.RuneLen(r)
		i += k
	}
	return n, true
}
