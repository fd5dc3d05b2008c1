package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/clienting/clienting/events"
)

const loadUsage = `usage: clienting load [flags] --file FILE

Imports historical orders into the input topic as purchase events with their
original times, so the processor builds the customers' state from history.

Formats (--format, detected from the extension and the first line when
omitted):
  csv    a header row, then one row per order or order line. Rows of one
         order (same customer and order id) become one purchase whose amount
         is the exact sum of amount, or of quantity * price. The "Online
         Retail" layouts (InvoiceNo/Invoice, StockCode, Description,
         Quantity, InvoiceDate, UnitPrice/Price, CustomerID/Customer ID,
         Country) are recognized from the header: invoices whose number
         starts with C are cancellations and become refunds.
         Other layouts: name the columns with the --*-col flags (a header
         name or a 1-based column number); common names are found without.
         A negative order total is a refund.
  jsonl  one JSON object per line with the same fields (customer_id, time,
         amount or quantity and price, order_id, optional currency, "kind":
         "refund", and "id" to keep a producer's event id).
  cdnow  the CDNOW transaction log: whitespace separated customer id, date
         (YYYYMMDD), quantity, dollar amount (the 10 % sample's extra sample
         id column is recognized and ignored).

Amounts are parsed as exact decimals and summed as integers; a total with
more decimal places than the currency's minor unit is rounded half away
from zero (counted in the summary). Rows that cannot be imported are
reported with their line numbers and reasons and never published; the
other rows of their order are held back too. Events are published in time
order, keyed by customer id, with acks=all.

Re-running is safe. Every event carries a source, the --source name
(default "history"), and a source_seq: its time in unix milliseconds * 1000
plus its rank among the customer's events of the same millisecond, in file
order. The processor applies an event only if its source_seq is above the
highest it applied for the customer from the same source; event ids are
derived from the row content too (customer and order id, or customer, time,
amount and occurrence). So running an import again, starting an interrupted
one over, or importing the file again with later orders added at its end
changes nothing for the orders imported before: only the new ones are
applied. In turn, an order dated at or before a customer's latest imported
order from the same source is taken as already imported, even if it never
was (one of the same millisecond counts as later only if it comes after it
in the file): import older files first, add new orders at the end of a
file, and give a file that is not an extension of an imported one its own
--source. Times before 1970-01-01T00:00:00.001Z cannot be numbered and are
rejected. --skip N leaves out the first N events (the order is the same on
every run).

Flags:
`

// maxShownRejections is how many bad rows the summary lists.
const maxShownRejections = 20

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadUsage); fs.PrintDefaults() }
	var o loadOptions
	file := fs.String("file", "", "the `file` to import, - for standard input (required)")
	fs.StringVar(&o.format, "format", "", "csv, jsonl or cdnow (default: detected)")
	fs.StringVar(&o.customerCol, "customer-col", "", "customer id `column`: header name or 1-based number")
	fs.StringVar(&o.timeCol, "time-col", "", "order time `column`")
	fs.StringVar(&o.amountCol, "amount-col", "", "order or line amount `column` (or --quantity-col and --price-col)")
	fs.StringVar(&o.quantityCol, "quantity-col", "", "quantity `column`; amount = quantity * price")
	fs.StringVar(&o.priceCol, "price-col", "", "unit price `column`")
	fs.StringVar(&o.orderCol, "order-col", "", "order or invoice id `column`; rows of one order make one event")
	fs.StringVar(&o.currency, "currency", envOr("CLIENTING_EVENTS_BASE_CURRENCY", events.DefaultBaseCurrency), "ISO 4217 `code` of the amounts (default: the base currency); the processor converts it with its configured rates")
	fs.StringVar(&o.timeLayout, "time-layout", "", "Go time `layout` of the time column, e.g. \"1/2/2006 15:04\" (default: detected)")
	tz := fs.String("tz", "UTC", "time `zone` of times that carry none (IANA name)")
	brokers := fs.String("brokers", envOr("CLIENTING_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka bootstrap `addresses`, comma separated; CLIENTING_KAFKA_BROKERS sets the default")
	topic := fs.String("topic", "customer.events", "input `topic` to publish to")
	dryRun := fs.Bool("dry-run", false, "parse and check only; publish nothing")
	fs.StringVar(&o.source, "source", defaultSource, "the events' source `name` (1 to 62 of A-Z a-z 0-9 . _ -); give each independent file its own")
	skip := fs.Int("skip", 0, "skip the first `N` events (re-running without it is safe too)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		fs.Usage()
		return errors.New("load: --file is required (- for standard input)")
	}
	if *skip < 0 {
		return fmt.Errorf("load: --skip: %d must not be negative", *skip)
	}
	var err error
	if o.loc, err = time.LoadLocation(*tz); err != nil {
		return fmt.Errorf("load: --tz: %w", err)
	}
	var in io.Reader = os.Stdin
	name := "stdin"
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		defer func() { _ = f.Close() }()
		in, name = f, *file
	}
	res, err := parseOrders(in, name, o)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	res.printParse(stdout, name)
	if *dryRun {
		fmt.Fprintln(stdout, "load: dry run, nothing published")
		return nil
	}
	evs := res.Events
	if *skip > 0 {
		if *skip > len(evs) {
			return fmt.Errorf("load: --skip: %d is more than the %d events of the file", *skip, len(evs))
		}
		fmt.Fprintf(stdout, "load: skipping the first %d events\n", *skip)
		evs = evs[*skip:]
	}
	addrs := splitList(*brokers)
	if len(addrs) == 0 {
		return errors.New("load: --brokers: at least one address is required")
	}
	w := newWriter(addrs, *topic)
	defer func() { _ = w.Close() }()
	sent, err := publishLoaded(ctx, w, evs, newProgress(stdout))
	fmt.Fprintf(stdout, "load: published %d of %d events to %s\n", *skip+sent, len(res.Events), *topic)
	if err != nil {
		if *skip+sent > 0 {
			fmt.Fprintf(stdout, "load: to resume, run the same command again (what was applied is skipped), or with --skip %d to not publish it again\n", *skip+sent)
		}
		return fmt.Errorf("load: publish to %s: %w%s", *topic, err, topicHint(err))
	}
	return nil
}

// publishLoaded writes the events in order, in batches, and returns how
// many were acknowledged.
func publishLoaded(ctx context.Context, w *kafka.Writer, evs []loadEvent, prog *progress) (int, error) {
	const batchSize = 1000
	msgs := make([]kafka.Message, 0, batchSize)
	sent := 0
	began := time.Now()
	for sent < len(evs) {
		msgs = msgs[:0]
		for _, e := range evs[sent:min(sent+batchSize, len(evs))] {
			msgs = append(msgs, kafka.Message{Key: []byte(e.Event.CustomerID), Value: e.Value})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			prog.done()
			return sent, err
		}
		sent += len(msgs)
		prog.update(func() string {
			return fmt.Sprintf("load: %s %d/%d events  %.0f events/s", bar(sent, len(evs), 30), sent, len(evs),
				float64(sent)/max(time.Since(began).Seconds(), 1e-9))
		})
	}
	prog.done()
	return sent, nil
}

// bar draws [#####.....] for done of total.
func bar(done, total, width int) string {
	n := width
	if total > 0 {
		n = done * width / total
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// loadOptions say how to read a file of orders.
type loadOptions struct {
	format      string // csv, jsonl, cdnow; "" detects
	customerCol string
	timeCol     string
	amountCol   string
	quantityCol string
	priceCol    string
	orderCol    string
	currency    string
	timeLayout  string
	loc         *time.Location
	source      string // the events' source; "" is defaultSource
}

// defaultSource is the source of imported events when --source is not
// given.
const defaultSource = "history"

// loadEvent is one event to publish with its encoded value.
type loadEvent struct {
	Line  int // first line of the order in the file
	Event events.Event
	Value []byte
	lines []int // every line of the order
}

type rejection struct {
	Line   int
	Reason string
}

// loadResult is what parseOrders read.
type loadResult struct {
	Source   string // the events' source
	Format   string // csv, jsonl, cdnow
	Layout   string // online-retail, online-retail-ii, columns, cdnow, jsonl
	Currency string
	Rows     int         // data rows read (header and blank lines excluded)
	Events   []loadEvent // in time order
	Rejected []rejection // the first maxShownRejections by line number
	Bad      int         // rejected rows in total
	Rounded  int         // orders whose total was rounded to the minor unit
}

// order accumulates the rows of one order.
type order struct {
	line     int
	lines    []int
	customer string
	orderID  string
	id       string // explicit event id (jsonl)
	content  string // identity of a row without order id
	time     time.Time
	total    int64 // signed, units of 10^-amountScale
	items    int64
	refund   bool
	currency string
	bad      string // first problem of one of its rows
	badLine  int
}

// amountScale is the number of decimal places kept while summing.
const amountScale = 6

// importer turns rows into orders.
type importer struct {
	o       loadOptions
	res     *loadResult
	orders  []*order
	byKey   map[string]*order
	seen    map[string]int // occurrences of a row content, per customer
	layouts []string
	minor   map[string]int
}

func parseOrders(r io.Reader, name string, o loadOptions) (*loadResult, error) {
	if o.loc == nil {
		o.loc = time.UTC
	}
	if o.currency == "" {
		o.currency = events.DefaultBaseCurrency
	}
	if o.source == "" {
		o.source = defaultSource
	}
	if !events.ValidSource(o.source) {
		return nil, fmt.Errorf("--source: %q must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", o.source, events.MaxSourceBytes)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if o.format == "" {
		f, err := detectFormat(br, name)
		if err != nil {
			return nil, err
		}
		o.format = f
	}
	im := &importer{
		o:     o,
		res:   &loadResult{Source: o.source, Format: o.format, Currency: o.currency},
		byKey: map[string]*order{},
		seen:  map[string]int{},
		minor: map[string]int{},
	}
	if _, err := im.minorUnits(o.currency); err != nil {
		return nil, fmt.Errorf("--currency: %w", err)
	}
	if o.timeLayout != "" {
		im.layouts = []string{o.timeLayout}
	} else {
		im.layouts = slices.Clone(timeLayouts)
	}
	var err error
	switch o.format {
	case "csv":
		err = im.readCSV(br)
	case "jsonl":
		im.res.Layout = "jsonl"
		err = im.readJSONL(br)
	case "cdnow":
		im.res.Layout = "cdnow"
		err = im.readCDNOW(br)
	default:
		return nil, fmt.Errorf("--format: %q must be csv, jsonl or cdnow", o.format)
	}
	if err != nil {
		return nil, err
	}
	im.finish()
	return im.res, nil
}

var cdnowLine = regexp.MustCompile(`^\s*\S+\s+(\S+\s+)?\d{8}\s+-?\d+\s+-?[\d.]+\s*$`)

// detectFormat picks the format from the file name's extension, else from
// the first non-empty line.
func detectFormat(br *bufio.Reader, name string) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv":
		return "csv", nil
	case ".jsonl", ".ndjson", ".json":
		return "jsonl", nil
	}
	peek, _ := br.Peek(64 << 10)
	lines := strings.Split(string(peek), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "{"):
			return "jsonl", nil
		case cdnowLine.MatchString(l):
			return "cdnow", nil
		case i+1 < len(lines) && cdnowLine.MatchString(strings.TrimSpace(lines[i+1])) && !strings.Contains(l, ","):
			return "cdnow", nil // a header line like CDNOW_master.txt's
		case strings.Contains(l, ","):
			return "csv", nil
		}
		break
	}
	return "", fmt.Errorf("cannot tell the format of %s: pass --format csv, jsonl or cdnow", name)
}

// timeLayouts are tried in order when --time-layout is not given; the
// layout that worked last is tried first.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	time.DateOnly,
	"1/2/2006 15:04",
	"1/2/2006 15:04:05",
	"1/2/2006",
	"20060102",
}

func (im *importer) parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for i, l := range im.layouts {
		t, err := time.ParseInLocation(l, s, im.o.loc)
		if err == nil {
			if i > 0 && im.o.timeLayout == "" {
				// try the layout that worked first next time
				im.layouts[0], im.layouts[i] = im.layouts[i], im.layouts[0]
			}
			return t.UTC(), nil
		}
	}
	if im.o.timeLayout != "" {
		return time.Time{}, fmt.Errorf("time %q does not match --time-layout %q", s, im.o.timeLayout)
	}
	return time.Time{}, fmt.Errorf("time %q has no known layout (pass --time-layout)", s)
}

func (im *importer) minorUnits(code string) (int, error) {
	if n, ok := im.minor[code]; ok {
		return n, nil
	}
	n, err := currencyMinorUnits(code)
	if err != nil {
		return 0, err
	}
	if n > amountScale {
		return 0, fmt.Errorf("%s has %d decimal places; at most %d are supported", code, n, amountScale)
	}
	im.minor[code] = n
	return n, nil
}

func (im *importer) reject(line int, format string, args ...any) {
	im.res.Bad++
	im.res.Rejected = append(im.res.Rejected, rejection{Line: line, Reason: fmt.Sprintf(format, args...)})
}

// row is one parsed row before aggregation.
type row struct {
	line     int
	customer string
	orderID  string
	id       string
	timeText string
	amount   string // exact decimal, or "" when quantity and price are given
	quantity string
	price    string
	currency string
	refund   bool
}

// add parses a row and adds it to its order.
func (im *importer) add(r row) {
	if strings.TrimSpace(r.customer) == "" {
		im.reject(r.line, "customer id is empty")
		return
	}
	r.customer = strings.TrimSpace(r.customer)
	if len(r.customer) > 256 {
		im.reject(r.line, "customer id is longer than 256 bytes")
		return
	}
	cur := r.currency
	if cur == "" {
		cur = im.o.currency
	}
	if _, err := im.minorUnits(cur); err != nil {
		im.reject(r.line, "currency: %v", err)
		return
	}
	t, terr := im.parseTime(r.timeText)
	var v, qty int64
	var verr error
	if r.amount != "" || r.quantity == "" {
		v, verr = parseExact(r.amount)
		if verr != nil {
			verr = fmt.Errorf("amount %q: %w", r.amount, verr)
		}
		qty = 1
	} else {
		var p int64
		qty, verr = strconv.ParseInt(strings.TrimSpace(r.quantity), 10, 64)
		if verr != nil {
			verr = fmt.Errorf("quantity %q is not a whole number", r.quantity)
		} else if p, verr = parseExact(r.price); verr != nil {
			verr = fmt.Errorf("price %q: %w", r.price, verr)
		} else if v, verr = mulExact(qty, p); verr != nil {
			verr = fmt.Errorf("quantity %s * price %s: %w", r.quantity, r.price, verr)
		}
	}
	var o *order
	if r.orderID = strings.TrimSpace(r.orderID); r.orderID != "" {
		key := r.customer + "\x00" + r.orderID
		o = im.byKey[key]
		if o == nil {
			o = &order{line: r.line, customer: r.customer, orderID: r.orderID, refund: r.refund, currency: cur, id: r.id, time: t}
			im.byKey[key] = o
			im.orders = append(im.orders, o)
		} else if o.currency != cur {
			im.reject(r.line, "currency %s differs from %s of order %s (line %d)", cur, o.currency, r.orderID, o.line)
			o.markBad(r.line, "a row in another currency")
			return
		}
	} else {
		o = &order{line: r.line, customer: r.customer, refund: r.refund, currency: cur, id: r.id, time: t}
		im.orders = append(im.orders, o)
	}
	o.lines = append(o.lines, r.line)
	switch {
	case terr != nil:
		im.reject(r.line, "%v", terr)
		o.markBad(r.line, "a bad row")
		return
	case verr != nil:
		im.reject(r.line, "%v", verr)
		o.markBad(r.line, "a bad row")
		return
	}
	if t.Before(o.time) {
		o.time = t
	}
	sum, ok := addExact(o.total, v)
	if !ok {
		im.reject(r.line, "order total overflows")
		o.markBad(r.line, "a bad row")
		return
	}
	o.total = sum
	o.items += absInt(qty)
	if o.orderID == "" {
		o.content = t.Format(time.RFC3339Nano) + "|" + formatExact(v) + "|" + cur + "|" + strconv.FormatBool(r.refund)
	}
}

func (o *order) markBad(line int, why string) {
	if o.bad == "" {
		o.bad, o.badLine = why, line
	}
}

// finish turns the orders into events, in time order.
func (im *importer) finish() {
	res := im.res
	for _, o := range im.orders {
		if o.bad != "" {
			for _, l := range o.lines {
				if l != o.badLine {
					im.reject(l, "order %s has %s at line %d", o.orderID, o.bad, o.badLine)
				}
			}
			continue
		}
		total := o.total
		refund := o.refund
		if total < 0 {
			refund, total = true, -total
		}
		minor, _ := im.minorUnits(o.currency)
		div := pow10(amountScale - minor)
		units, rem := total/div, total%div
		if rem != 0 {
			res.Rounded++
			if 2*rem >= div {
				units++
			}
		}
		if units == 0 {
			what := "amount"
			if o.orderID != "" {
				what = "order " + o.orderID + " total"
			}
			for _, l := range o.lines {
				im.reject(l, "%s is 0: a purchase needs a positive amount", what)
			}
			continue
		}
		if o.time.Before(firstSeqTime) {
			for _, l := range o.lines {
				im.reject(l, "time %s is before %s, the first millisecond a source_seq can number",
					o.time.Format(time.RFC3339Nano), firstSeqTime.Format(time.RFC3339Nano))
			}
			continue
		}
		id, orderID := o.id, o.orderID
		switch {
		case id == "" && orderID != "":
			id = events.OutputID("load", o.customer, orderID)
		case id == "":
			// the k-th identical row of a customer: identical purchases
			// (CDNOW has some) stay distinct, and the ids stay stable
			k := o.customer + "\x00" + o.content
			im.seen[k]++
			id = events.OutputID("load", o.customer, o.content, strconv.Itoa(im.seen[k]))
			orderID = "load-" + id[:16]
		case orderID == "":
			orderID = id
		}
		ev := events.Event{
			ID: id, Type: events.TypePurchase, CustomerID: o.customer, Time: o.time, Source: im.res.Source,
			Purchase: events.Purchase{OrderID: orderID, Refund: refund, Amount: units, Currency: o.currency, Items: o.items},
		}
		res.Events = append(res.Events, loadEvent{Line: o.line, Event: ev, lines: o.lines})
	}
	// In time order to the millisecond, then in file order: lines are
	// unique, so the same file gives the same order, and so the same
	// source_seqs, on every run, and orders added at the end of the file
	// come after the others of their millisecond.
	slices.SortFunc(res.Events, func(a, b loadEvent) int {
		if c := cmp.Compare(a.Event.Time.UnixMilli(), b.Event.Time.UnixMilli()); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
	im.numberEvents()
	for i := range res.Events {
		e := &res.Events[i]
		minor, _ := im.minorUnits(e.Event.Purchase.Currency)
		e.Value = e.Event.AppendJSON(nil, minor, e.Event.Purchase.Currency)
	}
	slices.SortStableFunc(res.Rejected, func(a, b rejection) int { return cmp.Compare(a.Line, b.Line) })
	if len(res.Rejected) > maxShownRejections {
		res.Rejected = res.Rejected[:maxShownRejections]
	}
}

// firstSeqTime and lastSeqTime bound the times a source_seq (1..2^53-1)
// can number: the first millisecond after the Unix epoch, and a
// millisecond in 2255.
var (
	firstSeqTime = time.UnixMilli(1).UTC()
	lastSeqTime  = time.UnixMilli(events.MaxSourceSeq / maxPerMilli).UTC()
)

// maxPerMilli is how many events of one customer one millisecond numbers.
const maxPerMilli = 1000

// sourceSeq is the source_seq of an event at time t that is the k-th
// (from 0) of its customer in t's millisecond.
func sourceSeq(t time.Time, k int) int64 {
	return t.UnixMilli()*maxPerMilli + int64(k)
}

// numberEvents sets the source_seq of the events, which are in order of
// their millisecond and then of their line: the event time in unix
// milliseconds * 1000 + k, k numbering a customer's events within one
// millisecond (0..999) in that order. A customer's seqs
// increase in the order they are published, and an event keeps its seq
// when later orders are appended to the file. Events that cannot be
// numbered are rejected.
func (im *importer) numberEvents() {
	type last struct {
		ms int64
		k  int
	}
	byCustomer := make(map[string]last)
	kept := im.res.Events[:0]
	for _, e := range im.res.Events {
		t := e.Event.Time
		l, seen := byCustomer[e.Event.CustomerID]
		if seen && l.ms == t.UnixMilli() {
			l.k++
		} else {
			l = last{ms: t.UnixMilli()}
		}
		byCustomer[e.Event.CustomerID] = l
		var why string
		switch seq := sourceSeq(t, l.k); {
		case l.k >= maxPerMilli:
			why = fmt.Sprintf("customer %s has more than %d orders at %s: a source_seq numbers at most %d per millisecond",
				e.Event.CustomerID, maxPerMilli, t.Format(time.RFC3339Nano), maxPerMilli)
		case seq > events.MaxSourceSeq:
			why = fmt.Sprintf("time %s is after %s, the latest a source_seq can number",
				t.Format(time.RFC3339Nano), lastSeqTime.Format(time.RFC3339Nano))
		default:
			e.Event.SourceSeq = seq
			kept = append(kept, e)
			continue
		}
		for _, line := range e.lines {
			im.reject(line, "%s", why)
		}
	}
	clear(im.res.Events[len(kept):])
	im.res.Events = kept
}

// columns of a CSV layout, as indexes (-1: absent).
type columns struct {
	customer, time, amount, quantity, price, order, currency, kind int
	cancelPrefix                                                   string // order ids starting with it are refunds
	trimFloatID                                                    bool   // "17850.0" -> "17850"
}

func (im *importer) readCSV(br *bufio.Reader) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return fmt.Errorf("read the header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	header = slices.Clone(header)
	cols, err := im.csvColumns(header)
	if err != nil {
		return err
	}
	width := len(header)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			im.res.Rows++
			im.reject(pe.StartLine, "%v", pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		im.res.Rows++
		if len(rec) != width {
			im.reject(line, "%d fields, want %d as in the header", len(rec), width)
			continue
		}
		get := func(i int) string {
			if i < 0 {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		r := row{line: line, customer: get(cols.customer), orderID: get(cols.order), timeText: get(cols.time),
			amount: get(cols.amount), quantity: get(cols.quantity), price: get(cols.price), currency: get(cols.currency)}
		if cols.trimFloatID {
			r.customer = trimFloatID(r.customer)
		}
		if cols.cancelPrefix != "" && strings.HasPrefix(r.orderID, cols.cancelPrefix) {
			r.refund = true
		}
		if k := strings.ToLower(get(cols.kind)); k == "refund" || k == "return" || k == "cancellation" {
			r.refund = true
		}
		if cols.amount < 0 && (r.quantity == "" || r.price == "") {
			im.reject(line, "quantity or price is empty")
			continue
		}
		im.add(r)
	}
}

func trimFloatID(s string) string {
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		return s[:i]
	}
	return s
}

// normalise makes header names comparable: "Customer ID" = "customer_id" = "CustomerID".
func normalise(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", "_", "", "-", "", ".", "").Replace(s)
}

// csvColumns maps the header to columns: the Online Retail layouts, else
// the --*-col flags, else common names.
func (im *importer) csvColumns(header []string) (columns, error) {
	idx := map[string]int{}
	for i, h := range header {
		if _, dup := idx[normalise(h)]; !dup {
			idx[normalise(h)] = i
		}
	}
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := idx[normalise(n)]; ok {
				return i
			}
		}
		return -1
	}
	o := im.o
	explicit := o.customerCol != "" || o.timeCol != "" || o.amountCol != "" || o.quantityCol != "" || o.priceCol != "" || o.orderCol != ""
	c := columns{customer: -1, time: -1, amount: -1, quantity: -1, price: -1, order: -1, currency: -1, kind: -1}
	if !explicit && find("StockCode") >= 0 && find("InvoiceDate") >= 0 && find("Quantity") >= 0 {
		c.customer = find("CustomerID", "Customer ID")
		c.time = find("InvoiceDate")
		c.quantity = find("Quantity")
		c.price = find("UnitPrice", "Price")
		c.order = find("InvoiceNo", "Invoice")
		if c.customer >= 0 && c.price >= 0 && c.order >= 0 {
			c.cancelPrefix = "C"
			c.trimFloatID = true
			im.res.Layout = "online-retail"
			if find("InvoiceNo") < 0 {
				im.res.Layout = "online-retail-ii"
			}
			return c, nil
		}
	}
	im.res.Layout = "columns"
	col := func(flagName, given string, names ...string) (int, error) {
		if given == "" {
			return find(names...), nil
		}
		if n, err := strconv.Atoi(given); err == nil {
			if n < 1 || n > len(header) {
				return -1, fmt.Errorf("--%s: column %d is out of range 1..%d", flagName, n, len(header))
			}
			return n - 1, nil
		}
		if i := find(given); i >= 0 {
			return i, nil
		}
		return -1, fmt.Errorf("--%s: no column %q in the header %q", flagName, given, header)
	}
	var errs []error
	set := func(p *int, flagName, given string, names ...string) {
		i, err := col(flagName, given, names...)
		errs = append(errs, err)
		*p = i
	}
	set(&c.customer, "customer-col", o.customerCol, "customer_id", "customerid", "customer", "client_id", "client", "user_id")
	set(&c.time, "time-col", o.timeCol, "time", "timestamp", "date", "order_date", "invoice_date", "created_at", "datetime")
	set(&c.order, "order-col", o.orderCol, "order_id", "order", "invoice", "invoice_no", "transaction_id")
	set(&c.amount, "amount-col", o.amountCol, "amount", "total", "value", "revenue", "sales")
	set(&c.quantity, "quantity-col", o.quantityCol, "quantity", "qty")
	set(&c.price, "price-col", o.priceCol, "price", "unit_price")
	c.currency = find("currency")
	c.kind = find("kind")
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if o.quantityCol != "" || o.priceCol != "" {
		if c.quantity < 0 || c.price < 0 {
			return c, errors.New("--quantity-col and --price-col go together")
		}
		if o.amountCol == "" {
			c.amount = -1
		}
	}
	switch {
	case c.customer < 0:
		return c, fmt.Errorf("no customer id column in the header %q: pass --customer-col", header)
	case c.time < 0:
		return c, fmt.Errorf("no time column in the header %q: pass --time-col", header)
	case c.amount < 0 && (c.quantity < 0 || c.price < 0):
		return c, fmt.Errorf("no amount column in the header %q: pass --amount-col, or --quantity-col and --price-col", header)
	}
	return c, nil
}

func (im *importer) readJSONL(br *bufio.Reader) error {
	o := im.o
	name := func(given, def string) string {
		if given != "" {
			return given
		}
		return def
	}
	fCustomer, fTime, fOrder := name(o.customerCol, "customer_id"), name(o.timeCol, "time"), name(o.orderCol, "order_id")
	fAmount, fQty, fPrice := name(o.amountCol, "amount"), name(o.quantityCol, "quantity"), name(o.priceCol, "price")
	line := 0
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			im.jsonLine(line, bytes.TrimSpace(raw), fCustomer, fTime, fOrder, fAmount, fQty, fPrice)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
	}
}

func (im *importer) jsonLine(line int, raw []byte, fCustomer, fTime, fOrder, fAmount, fQty, fPrice string) {
	if len(raw) == 0 {
		return
	}
	im.res.Rows++
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		im.reject(line, "not a JSON object: %v", err)
		return
	}
	str := func(k string) (string, bool) {
		switch v := m[k].(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		case nil:
			return "", true
		}
		return "", false
	}
	if t, _ := str("type"); t != "" && t != "purchase" {
		im.reject(line, "type %q: only purchases (orders) are imported", t)
		return
	}
	r := row{line: line}
	for _, f := range []struct {
		key string
		dst *string
	}{{fCustomer, &r.customer}, {fTime, &r.timeText}, {fOrder, &r.orderID}, {fAmount, &r.amount},
		{fQty, &r.quantity}, {fPrice, &r.price}, {"currency", &r.currency}, {"id", &r.id}} {
		v, ok := str(f.key)
		if !ok {
			im.reject(line, "%s must be a string or a number", f.key)
			return
		}
		*f.dst = v
	}
	kind, _ := str("kind")
	r.refund = kind == "refund"
	if r.amount == "" && (r.quantity == "" || r.price == "") {
		im.reject(line, "%s is missing (or %s and %s)", fAmount, fQty, fPrice)
		return
	}
	if r.amount != "" {
		r.quantity, r.price = "", ""
	}
	im.add(r)
}

func (im *importer) readCDNOW(br *bufio.Reader) error {
	line := 0
	for {
		raw, err := br.ReadString('\n')
		if len(raw) > 0 {
			line++
			im.cdnowLine(line, raw)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
	}
}

func (im *importer) cdnowLine(line int, raw string) {
	f := strings.Fields(raw)
	if len(f) == 0 {
		return
	}
	if line == 1 && len(f) > 0 && !isDigits(f[0]) {
		return // header: customer_id date number_of_cds dollar_value
	}
	im.res.Rows++
	if len(f) == 5 {
		f = append(f[:1], f[2:]...) // the sample's id in the sample
	}
	if len(f) != 4 {
		im.reject(line, "%d fields, want 4 (customer id, YYYYMMDD, quantity, amount)", len(f))
		return
	}
	if len(f[1]) != 8 || !isDigits(f[1]) {
		im.reject(line, "date %q is not YYYYMMDD", f[1])
		return
	}
	if _, err := strconv.ParseInt(f[2], 10, 64); err != nil {
		im.reject(line, "quantity %q is not a whole number", f[2])
		return
	}
	r := row{line: line, customer: f[0], timeText: f[1], amount: f[3], currency: "USD"}
	if strings.HasPrefix(f[3], "-") {
		r.refund, r.amount = true, f[3][1:]
	}
	saved := im.layouts
	im.layouts = []string{"20060102"}
	im.add(r)
	im.layouts = saved
	// the quantity is the number of items of this one purchase
	if o := im.orders[len(im.orders)-1]; o.line == line && o.bad == "" {
		o.items, _ = strconv.ParseInt(f[2], 10, 64)
	}
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseExact parses a decimal such as "-12.345" exactly into units of
// 10^-amountScale. No float is involved.
func parseExact(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" && fp == "" || !isDigits(ip) && ip != "" || !isDigits(fp) && fp != "" {
		return 0, errors.New("is not a decimal number such as 12.34")
	}
	fp = strings.TrimRight(fp, "0")
	if len(fp) > amountScale {
		return 0, fmt.Errorf("has more than %d decimal places", amountScale)
	}
	ip = strings.TrimLeft(ip, "0")
	if len(ip) > 12 {
		return 0, errors.New("is too large")
	}
	var v int64
	for i := range len(ip) {
		v = v*10 + int64(ip[i]-'0')
	}
	for i := range amountScale {
		v *= 10
		if i < len(fp) {
			v += int64(fp[i] - '0')
		}
	}
	if neg {
		v = -v
	}
	return v, nil
}

// formatExact formats units of 10^-amountScale as a decimal.
func formatExact(v int64) string {
	return events.FormatMoney(v, amountScale)
}

// mulExact multiplies a whole quantity by an amount, failing on overflow.
func mulExact(q, v int64) (int64, error) {
	hi, lo := bits.Mul64(uint64(absInt(q)), uint64(absInt(v)))
	if hi != 0 || lo > 1<<62 {
		return 0, errors.New("the line amount is too large")
	}
	r := int64(lo)
	if (q < 0) != (v < 0) {
		r = -r
	}
	return r, nil
}

func addExact(a, b int64) (int64, bool) {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		return 0, false
	}
	return s, true
}

func absInt(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// printParse writes what was read.
func (res *loadResult) printParse(w io.Writer, name string) {
	var sales, refunds int
	customers := map[string]bool{}
	var first, last time.Time
	for i, e := range res.Events {
		if e.Event.Purchase.Refund {
			refunds++
		} else {
			sales++
		}
		customers[e.Event.CustomerID] = true
		if i == 0 {
			first = e.Event.Time
		}
		last = e.Event.Time
	}
	fmt.Fprintf(w, "load: %s: %s (%s layout), amounts in %s\n", name, res.Format, res.Layout, res.Currency)
	fmt.Fprintf(w, "load: read %d rows: %d events (%d purchases, %d refunds) of %d customers, rejected %d rows\n",
		res.Rows, len(res.Events), sales, refunds, len(customers), res.Bad)
	if len(res.Events) > 0 {
		fmt.Fprintf(w, "load: event times %s .. %s, source %s\n", first.Format(time.RFC3339), last.Format(time.RFC3339), res.Source)
	}
	if res.Rounded > 0 {
		fmt.Fprintf(w, "load: %d order totals had more decimal places than %s has and were rounded to its minor unit\n", res.Rounded, res.Currency)
	}
	if res.Bad > 0 {
		fmt.Fprintf(w, "load: rejected rows (first %d of %d):\n", min(res.Bad, len(res.Rejected)), res.Bad)
		for _, r := range res.Rejected {
			fmt.Fprintf(w, "  line %d: %s\n", r.Line, r.Reason)
		}
	}
}
