package events

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// Header is a Kafka record header. Its fields match kafka-go's kafka.Header,
// so events.Header(h) converts one.
type Header struct {
	Key   string
	Value []byte
}

// Limits on string fields, in bytes of UTF-8.
const (
	// MaxIDBytes bounds id, customer_id and every other string field.
	MaxIDBytes = 256
	// MaxSourceBytes bounds source, which is 1..MaxSourceBytes characters
	// of A-Z, a-z, 0-9, '.', '_' and '-': the store keeps a source's
	// highest seq in a hash field "q:<source>", at most 64 bytes like every
	// field of a customer's hash.
	MaxSourceBytes = 62
)

// MaxSourceSeq is the largest source_seq, 2^53-1: the largest integer every
// JSON reader holds exactly.
const MaxSourceSeq = 1<<53 - 1

// mode is how a message carries its event.
type mode uint8

const (
	modeV1         mode = iota // schema v1 JSON body
	modeStructured             // CloudEvents structured mode: envelope and data in the JSON body
	modeBinary                 // CloudEvents binary mode: envelope in ce_* headers, data in the body
)

// doc is the known fields of one JSON object (or of the ce_* headers) with
// the wire names used in error messages.
type doc struct {
	f     fields
	names *[numFields]string
}

var (
	// dataNames name the fields of a structured CloudEvent's data.
	dataNames = func() (n [numFields]string) {
		for i, s := range fieldNames {
			n[i] = "data." + s
		}
		return n
	}()
	// headerNames name the attributes of a binary-mode CloudEvent.
	headerNames = func() (n [numFields]string) {
		n = fieldNames
		n[fID], n[fType], n[fTime] = "ce_id", "ce_type", "ce_time"
		n[fSpecVersion], n[fSource], n[fSubject] = "ce_specversion", "ce_source", "ce_subject"
		n[fDataContentType] = "content-type"
		return n
	}()
)

// contentType classifies a content-type header value.
type contentType uint8

const (
	ctNone        contentType = iota // no content-type header
	ctJSON                           // application/json or application/*+json
	ctCloudEvents                    // application/cloudevents+json (structured mode)
	ctBatch                          // application/cloudevents-batch+json (not supported)
	ctOther
)

func classifyContentType(v []byte) contentType {
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = bytes.TrimSpace(v)
	switch {
	case bytes.EqualFold(v, []byte("application/json")):
		return ctJSON
	case bytes.EqualFold(v, []byte("application/cloudevents+json")):
		return ctCloudEvents
	case bytes.EqualFold(v, []byte("application/cloudevents-batch+json")):
		return ctBatch
	case len(v) > len("application/+json") &&
		bytes.EqualFold(v[:len("application/")], []byte("application/")) &&
		bytes.EqualFold(v[len(v)-len("+json"):], []byte("+json")):
		return ctJSON
	}
	return ctOther
}

// Decode decodes and validates one Kafka message into an Event. key is the
// record key (when non-empty it must equal the customer id), value the record
// value and headers the record headers. The event may arrive as schema v1
// JSON, as a CloudEvents structured-mode JSON message, or in CloudEvents
// binary mode (ce_* headers, the data in the value); see the package
// documentation for the rules.
//
// Every error is a *DecodeError matching ErrInvalid, and permanent.
func (d *Decoder) Decode(key, value []byte, headers []Header) (Event, error) {
	if len(value) > d.maxBytes {
		return Event{}, d.tooLarge(len(value))
	}

	hdr := doc{names: &headerNames}
	ct, ctTok := ctNone, token{}
	for i := range headers {
		h := &headers[i]
		var f field
		switch h.Key {
		case "ce_specversion":
			f = fSpecVersion
		case "ce_id":
			f = fID
		case "ce_type":
			f = fType
		case "ce_source":
			f = fSource
		case "ce_time":
			f = fTime
		case "ce_subject":
			f = fSubject
		default:
			if strings.EqualFold(h.Key, "content-type") {
				ctTok = token{raw: h.Value, kind: kindString, n: min(ctTok.n, 254) + 1}
				ct = classifyContentType(h.Value)
			}
			continue
		}
		p := &hdr.f[f]
		if p.n == 0 {
			*p = token{raw: h.Value, kind: kindString}
		}
		if p.n < 255 {
			p.n++
		}
	}
	if ct == ctBatch {
		return Event{}, newError(ReasonUnsupportedContentType, "content-type", ctTok.raw,
			"batched CloudEvents are not supported: send one event per message")
	}

	top := doc{names: &fieldNames}
	if hdr.f[fSpecVersion].n > 0 && ct != ctCloudEvents {
		if ctTok.n > 1 {
			return Event{}, newError(ReasonDuplicateField, "content-type", ctTok.raw, "must appear at most once")
		}
		if ct == ctOther {
			return Event{}, newError(ReasonUnsupportedContentType, "content-type", ctTok.raw,
				"must be application/json")
		}
		if err := hdr.checkSpecVersion(); err != nil {
			return Event{}, err
		}
		if err := scanDocument(value, &top.f); err != nil {
			return Event{}, err
		}
		return d.build(modeBinary, key, &hdr, &top)
	}

	if err := scanDocument(value, &top.f); err != nil {
		return Event{}, err
	}
	if top.f[fSpecVersion].n == 0 && ct != ctCloudEvents {
		return d.build(modeV1, key, &top, &top)
	}
	if err := top.checkSpecVersion(); err != nil {
		return Event{}, err
	}
	t, err := top.get(fData)
	if err != nil {
		return Event{}, err
	}
	if !t.present() {
		b64, err := top.get(fDataBase64)
		if err != nil {
			return Event{}, err
		}
		if b64.present() {
			return Event{}, top.invalid(fDataBase64, b64, "is not supported: send the payload as a JSON object in data")
		}
		return Event{}, top.missing(fData)
	}
	if t.kind != kindObject {
		return Event{}, top.invalid(fData, t, "must be a JSON object")
	}
	data := doc{names: &dataNames}
	if _, err := scanObject(t.raw, 0, &data.f); err != nil {
		return Event{}, err // unreachable: the syntax was checked already
	}
	return d.build(modeStructured, key, &top, &data)
}

// build validates the envelope env and the payload pay and assembles the
// event. In schema v1 env == pay.
func (d *Decoder) build(m mode, key []byte, env, pay *doc) (Event, error) {
	var ev Event
	var strs stringSet

	// Version.
	if m == modeV1 {
		if err := pay.checkSchema(); err != nil {
			return ev, err
		}
	} else {
		if err := d.checkCloudEvent(m, env, pay); err != nil {
			return ev, err
		}
	}

	// Id.
	t, err := env.str(fID, true)
	if err != nil {
		return ev, err
	}
	strs.add(slotID, t)

	// Type.
	if t, err = env.str(fType, true); err != nil {
		return ev, err
	}
	var buf [64]byte
	if ev.Type = parseType(text(t, buf[:0]), m != modeV1); ev.Type == TypeUnknown {
		rule := "must be purchase, complaint or contact"
		if m != modeV1 {
			rule = "must be purchase, complaint or contact, or end in .purchase, .complaint or .contact"
		}
		return ev, newError(ReasonUnknownType, env.names[fType], t.raw, rule)
	}

	// Time.
	if ev.Time, err = d.eventTime(env); err != nil {
		return ev, err
	}

	// Customer.
	var cbuf [MaxIDBytes]byte
	cust, name, cid, err := customer(m, env, pay, cbuf[:0])
	if err != nil {
		return ev, err
	}
	if len(key) > 0 && !bytes.Equal(key, cid) {
		return ev, newError(ReasonKeyMismatch, name, cust.raw,
			"must equal the Kafka record key "+strconv.Quote(truncate(key)))
	}
	strs.add(slotCustomerID, &cust)

	// Source.
	if ev.SourceSeq, err = source(pay, &strs); err != nil {
		return ev, err
	}

	switch ev.Type {
	case TypePurchase:
		err = d.purchase(pay, &ev.Purchase, &strs)
	case TypeComplaint:
		err = complaint(pay, &ev.Complaint, &strs)
	case TypeContact:
		err = contact(pay, &ev.Contact, &strs)
	}
	if err != nil {
		return ev, err
	}
	strs.build(&ev)
	return ev, nil
}

// checkSchema checks the optional schema version field: absent or 1.
func (x *doc) checkSchema() error {
	t, err := x.get(fSchema)
	if err != nil || !t.present() {
		return err
	}
	if t.kind == kindNumber && len(t.raw) <= maxDecimalLen {
		if v, ok := parseDecimal(t.raw); ok {
			if n, res := toMinor(&v, nil, 0); res == moneyOK && n == 1 {
				return nil
			}
		}
	}
	return newError(ReasonUnsupportedVersion, x.names[fSchema], t.raw, "must be 1 (the only schema version) or absent")
}

// checkSpecVersion checks the CloudEvents specversion: "1.0".
func (x *doc) checkSpecVersion() error {
	t, err := x.str(fSpecVersion, true)
	if err != nil {
		return err
	}
	var buf [8]byte
	if string(text(t, buf[:0])) != "1.0" {
		return newError(ReasonUnsupportedVersion, x.names[fSpecVersion], t.raw, "must be 1.0")
	}
	return nil
}

// checkCloudEvent checks the CloudEvents attributes that are not part of the
// event (specversion is checked before): source and, in structured mode,
// datacontenttype; and the optional schema of the payload.
func (d *Decoder) checkCloudEvent(m mode, env, pay *doc) error {
	if _, err := env.str(fSource, true); err != nil {
		return err
	}
	if m == modeStructured {
		t, err := env.str(fDataContentType, false)
		if err != nil {
			return err
		}
		if t.present() {
			var buf [MaxIDBytes]byte
			if classifyContentType(text(t, buf[:0])) != ctJSON {
				return newError(ReasonUnsupportedContentType, env.names[fDataContentType], t.raw,
					"must be application/json or absent")
			}
		}
	}
	return pay.checkSchema()
}

// parseType maps a type name to a Type; ce also accepts a reverse-DNS name
// ending in ".purchase", ".complaint" or ".contact".
func parseType(s []byte, ce bool) Type {
	switch string(s) {
	case "purchase":
		return TypePurchase
	case "complaint":
		return TypeComplaint
	case "contact":
		return TypeContact
	}
	if ce {
		if i := bytes.LastIndexByte(s, '.'); i > 0 {
			return parseType(s[i+1:], false)
		}
	}
	return TypeUnknown
}

var unixEpoch = time.Unix(0, 0)

// eventTime validates the time attribute.
func (d *Decoder) eventTime(env *doc) (time.Time, error) {
	t, err := env.get(fTime)
	if err != nil {
		return time.Time{}, err
	}
	if !t.present() {
		return time.Time{}, env.missing(fTime)
	}
	if t.kind != kindString {
		return time.Time{}, env.invalid(fTime, t, "must be a string")
	}
	var buf [40]byte
	var ts time.Time
	ok := len(t.raw) <= 6*len(buf)
	if ok {
		ts, ok = parseTime(text(t, buf[:0]))
	}
	if !ok {
		return time.Time{}, env.invalid(fTime, t, "must be an RFC 3339 date-time such as 2024-05-01T12:30:00Z")
	}
	if ts.Before(unixEpoch) {
		return time.Time{}, env.invalid(fTime, t, "must not be before 1970-01-01T00:00:00Z")
	}
	if ts.After(d.now().Add(d.skew)) {
		return time.Time{}, newError(ReasonFutureTime, env.names[fTime], t.raw, d.skewRule)
	}
	return ts, nil
}

// customer finds and validates the customer id: customer_id in schema v1,
// subject or data.customer_id (equal if both are present) for CloudEvents.
// It returns the token (a copy), the wire name of its field and its
// unescaped text (appended to buf).
func customer(m mode, env, pay *doc, buf []byte) (token, string, []byte, error) {
	c, err := pay.str(fCustomerID, m == modeV1)
	if err != nil {
		return token{}, "", nil, err
	}
	if m == modeV1 {
		return *c, pay.names[fCustomerID], text(c, buf), nil
	}
	s, err := env.str(fSubject, !c.present())
	if err != nil {
		return token{}, "", nil, err
	}
	if !s.present() {
		return *c, pay.names[fCustomerID], text(c, buf), nil
	}
	sv := text(s, buf)
	if c.present() {
		var cbuf [MaxIDBytes]byte
		if !bytes.Equal(text(c, cbuf[:0]), sv) {
			return token{}, "", nil, newError(ReasonInvalidField, pay.names[fCustomerID], c.raw,
				"must equal "+env.names[fSubject]+" "+strconv.Quote(truncate(s.raw)))
		}
	}
	if len(sv) == 0 {
		return token{}, "", nil, env.invalid(fSubject, s, "must not be empty")
	}
	return *s, env.names[fSubject], sv, nil
}

// Rules of source and source_seq.
const (
	sourceRule    = "must be 1 to 62 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
	sourceSeqRule = "must be an integer from 1 to 9007199254740991: a JSON number without fraction or exponent, or a string of digits"
)

// maxSourceSeqDigits is the number of digits of MaxSourceSeq.
const maxSourceSeqDigits = 16

// source decodes the optional source and source_seq, adds source to strs
// and returns source_seq (0 when absent). source alone is not an error:
// producers often name themselves in a field of that name, which is then
// ignored like any unknown field; it is read, and must be valid, only with
// source_seq.
func source(x *doc, strs *stringSet) (int64, error) {
	s, err := x.get(fSource)
	if err != nil {
		return 0, err
	}
	q, err := x.get(fSourceSeq)
	if err != nil {
		return 0, err
	}
	switch {
	case !q.present():
		return 0, nil
	case !s.present():
		return 0, newError(ReasonMissingField, x.names[fSource], nil, "is required when "+x.names[fSourceSeq]+" is present")
	}

	if s.kind != kindString {
		return 0, x.invalid(fSource, s, "must be a string")
	}
	if n, ok := stringInfo(s); !ok || n == 0 || n > MaxSourceBytes {
		return 0, x.invalid(fSource, s, sourceRule)
	}
	var buf [MaxSourceBytes]byte
	for _, c := range text(s, buf[:0]) {
		if !isSourceChar(c) {
			return 0, x.invalid(fSource, s, sourceRule)
		}
	}

	var digits []byte
	var dbuf [maxSourceSeqDigits]byte
	switch q.kind {
	case kindNumber:
		digits = q.raw
	case kindString:
		if n, ok := stringInfo(q); ok && n <= len(dbuf) {
			digits = text(q, dbuf[:0])
		}
	}
	seq, ok := parseSourceSeq(digits)
	if !ok {
		return 0, x.invalid(fSourceSeq, q, sourceSeqRule)
	}
	strs.add(slotSource, s)
	return seq, nil
}

// ValidSource reports whether s is a valid source: 1..MaxSourceBytes
// characters of A-Z, a-z, 0-9, '.', '_' and '-'.
func ValidSource(s string) bool {
	if len(s) == 0 || len(s) > MaxSourceBytes {
		return false
	}
	for i := range len(s) {
		if !isSourceChar(s[i]) {
			return false
		}
	}
	return true
}

func isSourceChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '-'
}

// parseSourceSeq parses 1..MaxSourceSeq written as decimal digits without a
// leading zero.
func parseSourceSeq(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > maxSourceSeqDigits || b[0] == '0' {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v <= MaxSourceSeq
}

// purchase decodes the purchase payload.
func (d *Decoder) purchase(x *doc, p *Purchase, strs *stringSet) error {
	t, err := x.str(fOrderID, true)
	if err != nil {
		return err
	}
	strs.add(slotOrderID, t)

	if t, err = x.str(fCurrency, true); err != nil {
		return err
	}
	var buf [maxDecimalLen]byte
	code := text(t, buf[:0])
	if len(code) != 3 || !isUpper(code[0]) || !isUpper(code[1]) || !isUpper(code[2]) {
		return x.invalid(fCurrency, t, "must be an ISO 4217 code (3 upper-case letters)")
	}
	r := d.rates[string(code)]
	if r == nil {
		return newError(ReasonUnknownCurrency, x.names[fCurrency], t.raw,
			"must be "+d.base+" or a currency with a configured rate")
	}
	p.Currency = r.code

	if t, err = x.str(fKind, false); err != nil {
		return err
	}
	if t.present() {
		switch string(text(t, buf[:0])) {
		case "sale":
		case "refund":
			p.Refund = true
		default:
			return x.invalid(fKind, t, "must be sale or refund")
		}
	}

	if p.Amount, _, err = d.money(x, fAmount, r); err != nil {
		return err
	}
	if p.Amount <= 0 {
		t := &x.f[fAmount]
		if t.kind == kindNone || t.kind == kindNull {
			return x.missing(fAmount)
		}
		rule := "must be greater than 0"
		if !r.base {
			rule = "must be greater than 0 after conversion to " + d.base
		}
		return x.invalid(fAmount, t, rule)
	}
	if p.Margin, p.HasMargin, err = d.money(x, fMargin, r); err != nil {
		return err
	}

	if p.Items, err = x.count(fItems); err != nil {
		return err
	}
	if t, err = x.str(fChannel, false); err != nil {
		return err
	}
	strs.add(slotPurchaseChannel, t)
	return nil
}

// money decodes an optional money field in the currency r to base-currency
// minor units. Negative values are returned as such.
func (d *Decoder) money(x *doc, f field, r *rate) (int64, bool, error) {
	t, err := x.get(f)
	if err != nil || !t.present() {
		return 0, false, err
	}
	var buf [maxDecimalLen]byte
	var v decimal
	switch t.kind {
	case kindNumber:
		v, err = x.decimal(f, t, t.raw)
	case kindString:
		if len(t.raw) > 6*maxDecimalLen {
			return 0, false, x.invalid(f, t, "must be at most "+strconv.Itoa(maxDecimalLen)+" characters")
		}
		v, err = x.decimal(f, t, text(t, buf[:0]))
	default:
		return 0, false, x.invalid(f, t, "must be a decimal string or number")
	}
	if err != nil {
		return 0, false, err
	}
	if f == fAmount && (v.neg || v.isZero()) {
		return 0, false, x.invalid(f, t, "must be greater than 0")
	}
	var rd *decimal
	if !r.base {
		rd = &r.dec
	}
	n, res := toMinor(&v, rd, d.minorUnits)
	switch res {
	case moneyInexact:
		return 0, false, x.invalid(f, t, "must have at most "+strconv.Itoa(d.minorUnits)+" decimal places in "+d.base)
	case moneyOverflow:
		return 0, false, x.invalid(f, t, "must be within ±"+FormatMoney(maxInt64, d.minorUnits)+" "+d.base+" after conversion")
	}
	return n, true, nil
}

// decimal parses the text s of the decimal field f.
func (x *doc) decimal(f field, t *token, s []byte) (decimal, error) {
	if len(s) > maxDecimalLen {
		return decimal{}, x.invalid(f, t, "must be at most "+strconv.Itoa(maxDecimalLen)+" characters")
	}
	v, ok := parseDecimal(s)
	if !ok {
		return decimal{}, x.invalid(f, t, "must be a decimal number such as 12.34")
	}
	return v, nil
}

// count decodes an optional non-negative integer number.
func (x *doc) count(f field) (int64, error) {
	t, err := x.get(f)
	if err != nil || !t.present() {
		return 0, err
	}
	if t.kind != kindNumber {
		return 0, x.invalid(f, t, "must be a number")
	}
	v, err := x.decimal(f, t, t.raw)
	if err != nil {
		return 0, err
	}
	if v.neg && !v.isZero() {
		return 0, x.invalid(f, t, "must not be negative")
	}
	n, res := toMinor(&v, nil, 0)
	switch res {
	case moneyInexact:
		return 0, x.invalid(f, t, "must be a whole number")
	case moneyOverflow:
		return 0, x.invalid(f, t, "must be at most "+strconv.FormatInt(maxInt64, 10))
	}
	return n, nil
}

// complaint decodes the complaint payload.
func complaint(x *doc, c *Complaint, strs *stringSet) error {
	t, err := x.str(fComplaintID, true)
	if err != nil {
		return err
	}
	strs.add(slotComplaintID, t)

	if t, err = x.str(fSeverity, true); err != nil {
		return err
	}
	var buf [16]byte
	if c.Severity = ParseSeverity(string(text(t, buf[:0]))); c.Severity == SeverityUnknown {
		return x.invalid(fSeverity, t, "must be low, medium, high or critical")
	}

	if t, err = x.str(fStatus, false); err != nil {
		return err
	}
	if t.present() {
		switch string(text(t, buf[:0])) {
		case "opened":
		case "resolved":
			c.Resolved = true
		default:
			return x.invalid(fStatus, t, "must be opened or resolved")
		}
	}

	if t, err = x.str(fCategory, false); err != nil {
		return err
	}
	strs.add(slotCategory, t)
	if t, err = x.str(fChannel, false); err != nil {
		return err
	}
	strs.add(slotComplaintChannel, t)
	return nil
}

// contact decodes the contact payload.
func contact(x *doc, c *Contact, strs *stringSet) error {
	t, err := x.str(fContactID, true)
	if err != nil {
		return err
	}
	strs.add(slotContactID, t)

	if t, err = x.str(fChannel, true); err != nil {
		return err
	}
	strs.add(slotContactChannel, t)

	if t, err = x.str(fDirection, true); err != nil {
		return err
	}
	var buf [16]byte
	switch string(text(t, buf[:0])) {
	case "inbound":
		c.Inbound = true
	case "outbound":
	default:
		return x.invalid(fDirection, t, "must be inbound or outbound")
	}

	if t, err = x.str(fCampaignID, false); err != nil {
		return err
	}
	strs.add(slotCampaignID, t)
	if t, err = x.str(fOutcome, false); err != nil {
		return err
	}
	strs.add(slotOutcome, t)
	return nil
}

// get returns the token of f, rejecting duplicates.
func (x *doc) get(f field) (*token, error) {
	t := &x.f[f]
	if t.n > 1 {
		return nil, newError(ReasonDuplicateField, x.names[f], t.raw, "must appear at most once")
	}
	return t, nil
}

// str validates the string field f: required or not, a string, valid UTF-8,
// non-empty if required, at most MaxIDBytes bytes. It returns the token,
// which is not present() for an absent optional field.
func (x *doc) str(f field, required bool) (*token, error) {
	t, err := x.get(f)
	if err != nil {
		return nil, err
	}
	if !t.present() {
		if required {
			return nil, x.missing(f)
		}
		return t, nil
	}
	if t.kind != kindString {
		return nil, x.invalid(f, t, "must be a string")
	}
	n, ok := stringInfo(t)
	switch {
	case !ok:
		return nil, x.invalid(f, t, "must be valid UTF-8")
	case n == 0 && required:
		return nil, x.invalid(f, t, "must not be empty")
	case n > MaxIDBytes:
		return nil, x.invalid(f, t, "must be at most "+strconv.Itoa(MaxIDBytes)+" bytes")
	}
	return t, nil
}

func (x *doc) missing(f field) error {
	return newError(ReasonMissingField, x.names[f], nil, "is required")
}

func (x *doc) invalid(f field, t *token, rule string) error {
	return newError(ReasonInvalidField, x.names[f], t.raw, rule)
}

// text returns the unescaped content of a string token validated by
// stringInfo, appending to buf only if it has escapes.
func text(t *token, buf []byte) []byte {
	if !t.esc {
		return t.raw
	}
	b, _ := appendUnescaped(buf, t.raw)
	return b
}

// slot names a string field of Event.
type slot uint8

const (
	slotID slot = iota
	slotCustomerID
	slotOrderID
	slotPurchaseChannel
	slotComplaintID
	slotCategory
	slotComplaintChannel
	slotContactID
	slotContactChannel
	slotCampaignID
	slotOutcome
	slotSource
	numSlots
)

// stringSet collects the string fields of an event and materializes them
// with one allocation: one string holding them all, sliced. It holds tokens
// by value and names destinations by slot, so that nothing on the decoder's
// stack is pointed to from it and the scanned fields stay off the heap.
type stringSet struct {
	toks [numSlots]token
	size int
}

func (s *stringSet) add(i slot, t *token) {
	if t.present() {
		s.toks[i] = *t
		s.size += len(t.raw)
	}
}

func (s *stringSet) build(ev *Event) {
	var ends [numSlots]int
	var sb strings.Builder
	sb.Grow(s.size)
	var buf [MaxIDBytes]byte
	for i := range s.toks {
		t := &s.toks[i]
		if t.esc {
			sb.Write(text(t, buf[:0]))
		} else {
			sb.Write(t.raw)
		}
		ends[i] = sb.Len()
	}
	all := sb.String()
	str := func(i slot) string {
		if i == 0 {
			return all[:ends[0]]
		}
		return all[ends[i-1]:ends[i]]
	}
	ev.ID = str(slotID)
	ev.CustomerID = str(slotCustomerID)
	ev.Source = str(slotSource)
	switch ev.Type {
	case TypePurchase:
		ev.Purchase.OrderID = str(slotOrderID)
		ev.Purchase.Channel = str(slotPurchaseChannel)
	case TypeComplaint:
		ev.Complaint.ComplaintID = str(slotComplaintID)
		ev.Complaint.Category = str(slotCategory)
		ev.Complaint.Channel = str(slotComplaintChannel)
	case TypeContact:
		ev.Contact.ContactID = str(slotContactID)
		ev.Contact.Channel = str(slotContactChannel)
		ev.Contact.CampaignID = str(slotCampaignID)
		ev.Contact.Outcome = str(slotOutcome)
	}
}
