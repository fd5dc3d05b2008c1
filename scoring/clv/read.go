package clv

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Format is a transaction file format understood by ReadTransactions.
type Format int

// Transaction file formats.
const (
	// FormatCDNOWMaster is the CDNOW master file: whitespace-separated
	// customer id, date (YYYYMMDD), number of CDs, dollar value; an
	// optional header line.
	FormatCDNOWMaster Format = iota + 1
	// FormatCDNOWSample is the CDNOW 1/10 sample: customer id in the
	// master file, customer id in the sample, date, number of CDs, dollar
	// value. The customer is the first column.
	FormatCDNOWSample
	// FormatCSV is comma-separated values with a header naming the
	// customer, time and amount columns (see ReadTransactions); other
	// columns are ignored.
	FormatCSV
	// FormatJSONLines is one clienting input event per line (schema
	// version 1, optionally a CloudEvents structured envelope); purchase
	// events become transactions, refunds with negative amounts, other
	// event types are skipped.
	FormatJSONLines
)

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case FormatCDNOWMaster:
		return "cdnow-master"
	case FormatCDNOWSample:
		return "cdnow-sample"
	case FormatCSV:
		return "csv"
	case FormatJSONLines:
		return "jsonl"
	default:
		return "Format(" + strconv.Itoa(int(f)) + ")"
	}
}

// ParseError is a malformed line or value in a transaction file.
type ParseError struct {
	Format Format
	Line   int    // 1-based
	Column string // e.g. `2 "date"` or `"amount"`; empty for the whole line
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("clv: read %s: line %d: %v", e.Format, e.Line, e.Err)
	}
	return fmt.Sprintf("clv: read %s: line %d, column %s: %v", e.Format, e.Line, e.Column, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxLine is the longest line ReadTransactions accepts.
const maxLine = 1 << 20

// ReadTransactions reads a transaction file in the given format. Times
// without a zone are UTC.
//
// FormatCSV recognizes these header names, case-insensitively, with
// spaces and dashes read as underscores (the first match wins):
//
//	customer: customer_id, customerid, customer, cust_id, client_id, user_id, id
//	time:     time, timestamp, date, datetime, order_date, purchase_date,
//	          invoice_date, invoicedate, created_at, ts
//	amount:   amount, value, monetary_value, monetary, revenue, sales, total,
//	          spend, price, dollar_value, dollars
//	kind:     kind (optional; "refund" makes the amount negative)
//
// Times are RFC 3339, "2006-01-02 15:04:05" or YYYY-MM-DD (or YYYYMMDD).
// Errors are *ParseError values naming the line and the column.
func ReadTransactions(r io.Reader, format Format) ([]Transaction, error) {
	switch format {
	case FormatCDNOWMaster, FormatCDNOWSample:
		return readCDNOW(r, format)
	case FormatCSV:
		return readCSV(r)
	case FormatJSONLines:
		return readJSONLines(r)
	default:
		return nil, fmt.Errorf("clv: read transactions: unknown format %v", format)
	}
}

func readCDNOW(r io.Reader, format Format) ([]Transaction, error) {
	names := []string{"customer_id", "date", "number_of_cds", "dollar_value"}
	if format == FormatCDNOWSample {
		names = []string{"customer_id", "sample_id", "date", "number_of_cds", "dollar_value"}
	}
	col := func(i int) string { return fmt.Sprintf("%d %q", i+1, names[i]) }
	dateCol, countCol, amountCol := len(names)-3, len(names)-2, len(names)-1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var txs []Transaction
	line, seen := 0, false
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		first := !seen
		seen = true
		if first && !isDigits(f[0]) {
			continue // header
		}
		perr := func(c string, err error) error {
			return &ParseError{Format: format, Line: line, Column: c, Err: err}
		}
		if len(f) != len(names) {
			return nil, perr("", fmt.Errorf("want %d whitespace-separated columns, have %d", len(names), len(f)))
		}
		t, err := time.Parse("20060102", f[dateCol])
		if err != nil {
			return nil, perr(col(dateCol), fmt.Errorf("%q: want YYYYMMDD", f[dateCol]))
		}
		if n, err := strconv.Atoi(f[countCol]); err != nil || n < 0 {
			return nil, perr(col(countCol), fmt.Errorf("%q: want a count", f[countCol]))
		}
		amount, err := parseAmount(f[amountCol])
		if err != nil {
			return nil, perr(col(amountCol), err)
		}
		txs = append(txs, Transaction{Customer: f[0], Time: t, Amount: amount})
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{Format: format, Line: line + 1, Err: err}
	}
	return txs, nil
}

var csvAliases = map[string][]string{
	"customer": {"customer_id", "customerid", "customer", "cust_id", "client_id", "user_id", "id"},
	"time": {"time", "timestamp", "date", "datetime", "order_date", "purchase_date",
		"invoice_date", "invoicedate", "created_at", "ts"},
	"amount": {"amount", "value", "monetary_value", "monetary", "revenue", "sales", "total",
		"spend", "price", "dollar_value", "dollars"},
	"kind": {"kind"},
}

func readCSV(r io.Reader) ([]Transaction, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(err)
	}
	idx := map[string]int{}
	for _, role := range []string{"customer", "time", "amount", "kind"} {
		best := -1
		for _, alias := range csvAliases[role] {
			for i, h := range header {
				if normalizeHeader(h) == alias {
					best = i
					break
				}
			}
			if best >= 0 {
				break
			}
		}
		if best < 0 && role != "kind" {
			return nil, &ParseError{Format: FormatCSV, Line: 1, Err: fmt.Errorf("no %s column in header %q (want one of %s)",
				role, header, strings.Join(csvAliases[role], ", "))}
		}
		idx[role] = best
	}
	col := func(role string) string {
		return fmt.Sprintf("%d %q", idx[role]+1, header[idx[role]])
	}
	header = append([]string(nil), header...) // ReuseRecord reuses its backing array
	var txs []Transaction
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return txs, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		perr := func(role string, err error) error {
			return &ParseError{Format: FormatCSV, Line: line, Column: col(role), Err: err}
		}
		customer := strings.TrimSpace(rec[idx["customer"]])
		if customer == "" {
			return nil, perr("customer", errors.New("empty customer id"))
		}
		t, err := parseTime(rec[idx["time"]])
		if err != nil {
			return nil, perr("time", err)
		}
		amount, err := parseAmount(rec[idx["amount"]])
		if err != nil {
			return nil, perr("amount", err)
		}
		if k := idx["kind"]; k >= 0 && strings.EqualFold(strings.TrimSpace(rec[k]), "refund") {
			amount = -math.Abs(amount)
		}
		txs = append(txs, Transaction{Customer: customer, Time: t, Amount: amount})
	}
}

// csvError turns an error of encoding/csv into a *ParseError.
func csvError(err error) error {
	var ce *csv.ParseError
	if errors.As(err, &ce) {
		return &ParseError{Format: FormatCSV, Line: ce.Line, Column: strconv.Itoa(ce.Column), Err: ce.Err}
	}
	return fmt.Errorf("clv: read csv: %w", err)
}

func normalizeHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(h)
}

// jsonEvent is the part of a clienting input event (DESIGN.md section 4)
// that makes a transaction, or a CloudEvents envelope around one.
type jsonEvent struct {
	SpecVersion string          `json:"specversion"`
	Data        json.RawMessage `json:"data"`
	Type        string          `json:"type"`
	CustomerID  *string         `json:"customer_id"`
	Time        string          `json:"time"`
	Amount      json.RawMessage `json:"amount"`
	Kind        string          `json:"kind"`
}

func readJSONLines(r io.Reader) ([]Transaction, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var txs []Transaction
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		perr := func(c string, err error) error {
			return &ParseError{Format: FormatJSONLines, Line: line, Column: c, Err: err}
		}
		var ev jsonEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, perr(fmt.Sprintf("%d", se.Offset), err)
			}
			return nil, perr("", err)
		}
		if ev.SpecVersion != "" && len(ev.Data) > 0 {
			var inner jsonEvent
			if err := json.Unmarshal(ev.Data, &inner); err != nil {
				return nil, perr(`"data"`, err)
			}
			if inner.Type == "" {
				inner.Type = ev.Type
			}
			if inner.Time == "" {
				inner.Time = ev.Time
			}
			ev = inner
		}
		if ev.Type != "" && ev.Type != "purchase" && !strings.HasSuffix(ev.Type, ".purchase") {
			continue
		}
		if ev.CustomerID == nil || *ev.CustomerID == "" {
			return nil, perr(`"customer_id"`, errors.New("missing or empty"))
		}
		t, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			return nil, perr(`"time"`, fmt.Errorf("%q: want RFC 3339", ev.Time))
		}
		if len(ev.Amount) == 0 {
			return nil, perr(`"amount"`, errors.New("missing"))
		}
		raw := string(ev.Amount)
		if strings.HasPrefix(raw, `"`) {
			if err := json.Unmarshal(ev.Amount, &raw); err != nil {
				return nil, perr(`"amount"`, err)
			}
		}
		amount, err := parseAmount(raw)
		if err != nil {
			return nil, perr(`"amount"`, err)
		}
		if !(amount > 0) {
			return nil, perr(`"amount"`, fmt.Errorf("%s: want > 0", raw))
		}
		if ev.Kind == "refund" {
			amount = -amount
		}
		txs = append(txs, Transaction{Customer: *ev.CustomerID, Time: t, Amount: amount})
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{Format: FormatJSONLines, Line: line + 1, Err: err}
	}
	return txs, nil
}

// parseAmount parses a finite decimal number.
func parseAmount(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: want a finite decimal number", s)
	}
	return v, nil
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
	"20060102",
}

// parseTime parses the time formats FormatCSV accepts; times without a
// zone are UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339, \"2006-01-02 15:04:05\" or YYYY-MM-DD", s)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
