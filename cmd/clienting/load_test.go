package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/kafkatest"
	"github.com/clienting/clienting/internal/testenv"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

func parseString(t *testing.T, name, text string, o loadOptions) *loadResult {
	t.Helper()
	res, err := parseOrders(strings.NewReader(text), name, o)
	require.NoError(t, err)
	return res
}

// summary is an event as the tests check it.
type summary struct {
	Customer, Order string
	Amount          int64
	Refund          bool
	Time            string
	Items           int64
}

func summarize(res *loadResult) []summary {
	out := make([]summary, len(res.Events))
	for i, e := range res.Events {
		p := e.Event.Purchase
		out[i] = summary{e.Event.CustomerID, p.OrderID, p.Amount, p.Refund, e.Event.Time.Format(time.RFC3339), p.Items}
	}
	return out
}

func rejectedLines(res *loadResult) map[int]string {
	out := map[int]string{}
	for _, r := range res.Rejected {
		out[r.Line] = r.Reason
	}
	return out
}

// decodeAll decodes every loaded event with the processor's decoder, which
// must give back the event.
func decodeAll(t *testing.T, res *loadResult, cfg events.DecoderConfig) {
	t.Helper()
	cfg.Now = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	dec, err := events.NewDecoder(cfg)
	require.NoError(t, err)
	for _, e := range res.Events {
		got, err := dec.Decode([]byte(e.Event.CustomerID), e.Value, nil)
		require.NoError(t, err, "%s", e.Value)
		want := e.Event
		want.Purchase.Currency = got.Purchase.Currency
		if got.Purchase.Currency != dec.BaseCurrency() {
			// converted at the configured rate: checked by the caller
			want.Purchase.Amount = got.Purchase.Amount
		}
		require.Equal(t, want, got)
	}
}

func TestParseOnlineRetail(t *testing.T) {
	f, err := os.Open("testdata/online_retail.csv")
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	res, err := parseOrders(f, "testdata/online_retail.csv", loadOptions{})
	require.NoError(t, err)
	require.Equal(t, "csv", res.Format)
	require.Equal(t, "online-retail", res.Layout)
	require.Equal(t, 35, res.Rows)
	const t0 = "2010-12-01T"
	require.Equal(t, []summary{
		{"17850", "536365", 13912, false, t0 + "08:26:00Z", 40},
		{"17850", "536366", 2220, false, t0 + "08:28:00Z", 12},
		{"13047", "536367", 27873, false, t0 + "08:34:00Z", 83},
		{"13047", "536368", 7005, false, t0 + "08:34:00Z", 15},
		{"13047", "536369", 1785, false, t0 + "08:35:00Z", 3},
		{"12583", "536370", 23400, false, t0 + "08:45:00Z", 51},
		{"17850", "536372", 1110, false, t0 + "09:01:00Z", 6},
		{"14527", "536375", 1530, false, t0 + "09:32:00Z", 6},
		{"14527", "C536379", 255, true, t0 + "09:41:00Z", 1},
	}, summarize(res))
	require.Equal(t, 3, res.Bad)
	bad := rejectedLines(res)
	require.Len(t, bad, 3)
	require.Equal(t, "customer id is empty", bad[34])
	require.Contains(t, bad[35], `time "12/32/2010 10:00"`)
	require.Contains(t, bad[36], `quantity "six" is not a whole number`)
	decodeAll(t, res, events.DecoderConfig{})

	// ids derive from the content: the same rows in another file (here:
	// reordered, with the bad rows gone) give the same ids
	raw, err := os.ReadFile("testdata/online_retail.csv")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	body := slices.Clone(lines[1:33])
	slices.Reverse(body)
	again := parseString(t, "other.csv", lines[0]+"\n"+strings.Join(body, "\n")+"\n", loadOptions{})
	ids := func(r *loadResult) map[string]string {
		m := map[string]string{}
		for _, e := range r.Events {
			m[e.Event.Purchase.OrderID] = e.Event.ID
		}
		return m
	}
	require.Equal(t, ids(res), ids(again))
	require.Zero(t, again.Bad)
}

func TestParseOnlineRetailII(t *testing.T) {
	text := "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n" +
		"489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n" +
		"489434,79323P,PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085.0,United Kingdom\n" +
		"C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,16321.0,Australia\n"
	res := parseString(t, "online_retail_II.csv", text, loadOptions{})
	require.Equal(t, "online-retail-ii", res.Layout)
	require.Equal(t, []summary{
		{"13085", "489434", 16440, false, "2009-12-01T07:45:00Z", 24},
		{"16321", "C489449", 3540, true, "2009-12-01T10:33:00Z", 12},
	}, summarize(res))
}

func TestParseExactAmounts(t *testing.T) {
	// 3 x 0.1 is 0.30000000000000004 in floating point; 1.065 x 2 = 2.13
	// exactly; 1.855 rounds half away from zero to 1.86; a negative total
	// is a refund
	text := "customer,when,order,qty,unit_price\n" +
		"a,2024-01-02 10:00,o1,3,0.1\n" +
		"b,2024-01-02 10:00,o2,2,1.065\n" +
		"c,2024-01-02 10:00,o3,1,1.855\n" +
		"d,2024-01-02 10:00,o4,-2,4.50\n" +
		"e,2024-01-02 10:00,o5,2,99999999999.99\n" +
		"f,2024-01-02 10:00,o6,1,1.2345678\n" +
		"g,2024-01-02 10:00,o7,1,0\n" +
		"h,2024-01-02 10:00,o8,3,0.10\n" +
		"h,2024-01-02 10:00,o8,2,-0.15\n"
	res := parseString(t, "orders.csv", text, loadOptions{timeCol: "when", quantityCol: "qty", priceCol: "unit_price"})
	require.Equal(t, "columns", res.Layout)
	amounts := map[string]int64{}
	refunds := map[string]bool{}
	for _, e := range res.Events {
		amounts[e.Event.CustomerID] = e.Event.Purchase.Amount
		refunds[e.Event.CustomerID] = e.Event.Purchase.Refund
	}
	require.Equal(t, map[string]int64{"a": 30, "b": 213, "c": 186, "d": 900, "e": 19999999999998}, amounts)
	require.True(t, refunds["d"])
	require.False(t, refunds["a"])
	require.Equal(t, 1, res.Rounded)
	bad := rejectedLines(res)
	require.Contains(t, bad[7], "more than 6 decimal places")
	require.Contains(t, bad[8], "total is 0")
	// h: 0.30 - 0.30 = 0 over two rows: both rows rejected
	require.Contains(t, bad[9], "order o8 total is 0")
	require.Contains(t, bad[10], "order o8 total is 0")
	decodeAll(t, res, events.DecoderConfig{})

	// more decimals than the currency has (JPY: none) are rounded too
	res = parseString(t, "jpy.csv", "customer_id,time,amount\nx,2024-01-02,100.5\ny,2024-01-02,7\n", loadOptions{currency: "JPY"})
	require.Equal(t, []int64{101, 7}, []int64{res.Events[0].Event.Purchase.Amount, res.Events[1].Event.Purchase.Amount})
	decodeAll(t, res, events.DecoderConfig{BaseCurrency: "JPY"})
}

func TestParseColumnsByFlag(t *testing.T) {
	// a header naming nothing we know, columns named by flags, one by number
	csvText := "client ref,booked,gross,ref\n" +
		"K-1,02.01.2024,19.99,A1\n" +
		"K-1,03.01.2024,5,A2\n" +
		"K-2,03.01.2024,,A3\n" +
		"K-2,03.01.2024,1,2,3\n"
	res := parseString(t, "x.csv", csvText, loadOptions{customerCol: "client ref", timeCol: "2", amountCol: "gross", orderCol: "ref", timeLayout: "02.01.2006"})
	require.Equal(t, []summary{
		{"K-1", "A1", 1999, false, "2024-01-02T00:00:00Z", 1},
		{"K-1", "A2", 500, false, "2024-01-03T00:00:00Z", 1},
	}, summarize(res))
	bad := rejectedLines(res)
	require.Contains(t, bad[4], `amount ""`)
	require.Contains(t, bad[5], "5 fields, want 4")

	_, err := parseOrders(strings.NewReader("a,b\n1,2\n"), "x.csv", loadOptions{})
	require.ErrorContains(t, err, "pass --customer-col")
	_, err = parseOrders(strings.NewReader("a,b\n1,2\n"), "x.csv", loadOptions{customerCol: "c"})
	require.ErrorContains(t, err, `--customer-col: no column "c"`)
}

func TestParseCDNOW(t *testing.T) {
	master := " customer_id  date number_of_cds  dollar_value\r\n" +
		" 00001 19970101  1   11.77\r\n" +
		" 00002 19970112  1   12.00\r\n" +
		" 00002 19970112  1   12.00\r\n" + // the same again: a second purchase
		" 00004 19970101  2   29.33\r\n" +
		" 00455 19970102  1    0.00\r\n" +
		" 00456 1997010x  1    3.00\r\n" +
		" 00457 19970102  1\r\n"
	res := parseString(t, "CDNOW_master.txt", master, loadOptions{})
	require.Equal(t, "cdnow", res.Format)
	require.Equal(t, 7, res.Rows)
	s := summarize(res)
	for i := range s {
		s[i].Order = ""
	}
	require.Equal(t, []summary{
		{"00001", "", 1177, false, "1997-01-01T00:00:00Z", 1},
		{"00004", "", 2933, false, "1997-01-01T00:00:00Z", 2},
		{"00002", "", 1200, false, "1997-01-12T00:00:00Z", 1},
		{"00002", "", 1200, false, "1997-01-12T00:00:00Z", 1},
	}, s)
	require.NotEqual(t, res.Events[2].Event.ID, res.Events[3].Event.ID, "two identical purchases need two ids")
	bad := rejectedLines(res)
	require.Equal(t, 3, res.Bad)
	require.Contains(t, bad[6], "amount is 0")
	require.Contains(t, bad[7], `date "1997010x"`)
	require.Contains(t, bad[8], "3 fields, want 4")
	decodeAll(t, res, events.DecoderConfig{})

	// the 10 % sample (an extra column, no header) gives the same ids
	sample := " 00004 0001 19970101  2   29.33\n 00002 0002 19970112  1   12.00\n 00002 0002 19970112  1   12.00\n"
	res2 := parseString(t, "CDNOW_sample.txt", sample, loadOptions{})
	require.Equal(t, "cdnow", res2.Format)
	got := []string{res2.Events[0].Event.ID, res2.Events[1].Event.ID, res2.Events[2].Event.ID}
	require.Equal(t, []string{res.Events[1].Event.ID, res.Events[2].Event.ID, res.Events[3].Event.ID}, got)
}

func TestParseJSONL(t *testing.T) {
	text := `{"customer_id":"c 1","time":"2024-05-01T12:00:00Z","order_id":"o1","amount":"12.34"}` + "\n" +
		`{"customer_id":"c 1","time":"2024-05-02T12:00:00+02:00","order_id":"o1-r","amount":2.5,"kind":"refund"}` + "\n" +
		"\n" +
		`{"customer_id":"c 2","time":"2024-05-03","quantity":3,"price":"1.10","id":"shop-7"}` + "\n" +
		`{"type":"complaint","customer_id":"c 2","time":"2024-05-03"}` + "\n" +
		`{"customer_id":"c 3","time":"2024-05-03","amount":"1.00"` + "\n" +
		`{"customer_id":"c 3","time":"2024-05-03","amount":"1.00","currency":"EUR"}` + "\n"
	res := parseString(t, "orders.jsonl", text, loadOptions{})
	require.Equal(t, "jsonl", res.Format)
	require.Equal(t, 6, res.Rows)
	require.Len(t, res.Events, 4)
	require.Equal(t, "shop-7", res.Events[2].Event.ID)
	require.Equal(t, int64(330), res.Events[2].Event.Purchase.Amount)
	require.True(t, res.Events[1].Event.Purchase.Refund)
	require.Equal(t, int64(250), res.Events[1].Event.Purchase.Amount)
	require.Equal(t, "2024-05-02T10:00:00Z", res.Events[1].Event.Time.Format(time.RFC3339))
	require.Contains(t, string(res.Events[3].Value), `"currency":"EUR"`)
	bad := rejectedLines(res)
	require.Contains(t, bad[5], "only purchases")
	require.Contains(t, bad[6], "not a JSON object")
	decodeAll(t, res, events.DecoderConfig{Rates: map[string]string{"EUR": "1.25"}})
}

func TestDetectFormat(t *testing.T) {
	for name, tc := range map[string]struct{ file, text, want string }{
		"csv ext":      {"a.csv", "whatever", "csv"},
		"jsonl ext":    {"a.ndjson", "", "jsonl"},
		"cdnow master": {"CDNOW_master.txt", " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n", "cdnow"},
		"cdnow sample": {"-", " 00004 0001 19970101  2   29.33\n", "cdnow"},
		"json stdin":   {"-", "\n{\"a\":1}\n", "jsonl"},
		"csv stdin":    {"-", "InvoiceNo,StockCode\n", "csv"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := parseOrders(strings.NewReader(tc.text), tc.file, loadOptions{})
			if err == nil {
				require.Equal(t, tc.want, res.Format)
				return
			}
			// an unparseable body is fine here: only the format matters
			require.NotContains(t, err.Error(), "cannot tell the format")
		})
	}
	_, err := parseOrders(strings.NewReader("hello world\n"), "-", loadOptions{})
	require.ErrorContains(t, err, "pass --format")
}

func TestLoadSourceSeq(t *testing.T) {
	ms := func(s string) int64 {
		at, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return at.UnixMilli()
	}
	text := "customer_id,time,order_id,amount\n" +
		"a,2024-01-02T10:00:00.5Z,a3,1\n" + // the latest of a first in the file
		"a,2024-01-02T10:00:00.2Z,a1,1\n" +
		"b,2024-01-02T10:00:00.2Z,b1,1\n" +
		"a,2024-01-02T10:00:00.2Z,a2,1\n" + // same millisecond as a1, later in the file
		"a,2024-01-02T10:00:00.2009Z,a2b,1\n" + // same millisecond: numbered in file order too
		"a,2024-01-01,a0,1\n"
	res := parseString(t, "orders.csv", text, loadOptions{})
	require.Zero(t, res.Bad)
	seqs := map[string]int64{}
	last := map[string]int64{}
	for _, e := range res.Events {
		require.Equal(t, "history", e.Event.Source)
		require.Greater(t, e.Event.SourceSeq, last[e.Event.CustomerID], "a customer's seqs increase in publishing order")
		last[e.Event.CustomerID] = e.Event.SourceSeq
		seqs[e.Event.Purchase.OrderID] = e.Event.SourceSeq
	}
	t0 := ms("2024-01-02T10:00:00.2Z")
	require.Equal(t, map[string]int64{
		"a0": ms("2024-01-01T00:00:00Z") * 1000,
		"a1": t0 * 1000, "a2": t0*1000 + 1, "a2b": t0*1000 + 2, "b1": t0 * 1000,
		"a3": ms("2024-01-02T10:00:00.5Z") * 1000,
	}, seqs)
	decodeAll(t, res, events.DecoderConfig{})

	// orders added at the end of the file keep the seqs of the others,
	// also one at a time already numbered
	more := parseString(t, "orders.csv", text+"a,2024-01-02T10:00:00.2Z,a4,1\nc,2023-01-01,c1,1\n", loadOptions{source: "shop-1"})
	for _, e := range more.Events {
		require.Equal(t, "shop-1", e.Event.Source)
		if want, ok := seqs[e.Event.Purchase.OrderID]; ok {
			require.Equal(t, want, e.Event.SourceSeq, e.Event.Purchase.OrderID)
		}
	}
	require.Len(t, more.Events, len(res.Events)+2)
	require.Equal(t, t0*1000+3, more.Events[slices.IndexFunc(more.Events, func(e loadEvent) bool { return e.Event.Purchase.OrderID == "a4" })].Event.SourceSeq)

	// times a seq cannot number
	res = parseString(t, "orders.csv", "customer_id,time,order_id,amount\n"+
		"a,1969-12-31T23:59:59Z,o1,1\n"+
		"a,1970-01-01T00:00:00.0009Z,o2,1\n"+
		"a,1970-01-01T00:00:00.001Z,o3,1\n"+
		"a,2255-06-05T23:47:34.740Z,o4,1\n"+
		"a,2255-06-05T23:47:34.741Z,o5,1\n", loadOptions{})
	require.Equal(t, []string{"o3", "o4"}, []string{res.Events[0].Event.Purchase.OrderID, res.Events[1].Event.Purchase.OrderID})
	require.Equal(t, []int64{1000, events.MaxSourceSeq - 991}, []int64{res.Events[0].Event.SourceSeq, res.Events[1].Event.SourceSeq})
	bad := rejectedLines(res)
	require.Len(t, bad, 3)
	require.Equal(t, "time 1969-12-31T23:59:59Z is before 1970-01-01T00:00:00.001Z, the first millisecond a source_seq can number", bad[2])
	require.Contains(t, bad[3], "is before 1970-01-01T00:00:00.001Z")
	require.Equal(t, "time 2255-06-05T23:47:34.741Z is after 2255-06-05T23:47:34.74Z, the latest a source_seq can number", bad[6])

	// at most 1000 events of a customer in one millisecond: identical
	// rows (no order id) are distinct purchases
	var b strings.Builder
	b.WriteString("customer_id,time,amount\n")
	for range 1001 {
		b.WriteString("x,2024-01-02 10:00,1\n")
	}
	b.WriteString("y,2024-01-02 10:00,1\n")
	res = parseString(t, "many.csv", b.String(), loadOptions{})
	require.Len(t, res.Events, 1001)
	require.Equal(t, 1, res.Bad)
	require.Equal(t, map[int]string{1002: "customer x has more than 1000 orders at 2024-01-02T10:00:00Z: a source_seq numbers at most 1000 per millisecond"}, rejectedLines(res))

	_, err := parseOrders(strings.NewReader(text), "orders.csv", loadOptions{source: "shop/eu"})
	require.ErrorContains(t, err, `--source: "shop/eu" must be 1 to 62 characters`)
}

// retailRows returns Online Retail rows: one invoice of one line per
// time, numbered from invoice, for customer, with quantity i+1 at 2.50.
func retailRows(customer string, invoice int, times ...time.Time) string {
	var b strings.Builder
	for i, at := range times {
		fmt.Fprintf(&b, "%d,S%d,ITEM,%d,%s,2.50,%s,United Kingdom\n", invoice+i, i, i+1, at.Format("1/2/2006 15:04"), customer)
	}
	return b.String()
}

// TestLoadTwiceChangesNothing imports a file twice into the real Kafka and
// runs the processor after each import: the second import must leave every
// customer's state and the segment-change stream unchanged, also for a
// customer with many more orders than the 8 event ids release 1 remembered. Then it imports the
// file extended with later orders: only those are applied.
func TestLoadTwiceChangesNothing(t *testing.T) {
	now := time.Date(2011, 1, 15, 0, 0, 0, 0, time.UTC)
	p := newPipeline(t, now)
	freshMetadata()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// the Online Retail sample (9 orders, 3 bad rows) and a customer with
	// 25 weekly orders, more than the 8 event ids the processor remembers
	retail, err := os.ReadFile("testdata/online_retail.csv")
	require.NoError(t, err)
	const long, longOrders = "19999", 25
	var weekly []time.Time
	for i := range longOrders {
		weekly = append(weekly, time.Date(2010, 6, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, 7*i))
	}
	original := string(retail) + retailRows(long, 600000, weekly...)
	// later orders added at the end: one more for the long history, one of
	// 17850 at the very time of its order 536372 (later in the file, so
	// later), and a new customer
	extended := original + retailRows(long, 600100, time.Date(2010, 12, 20, 9, 0, 0, 0, time.UTC)) +
		retailRows("17850", 600200, time.Date(2010, 12, 1, 9, 1, 0, 0, time.UTC)) +
		retailRows("20000", 600300, time.Date(2011, 1, 5, 16, 30, 0, 0, time.UTC))
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path
	}
	originalFile, extendedFile := write("orders.csv", original), write("orders-extended.csv", extended)

	load := func(file string, events int) {
		var out bytes.Buffer
		err := loadCmd(ctx, []string{"--file", file, "--brokers", strings.Join(p.brokers, ","), "--topic", p.input()}, &out, &out)
		require.NoError(t, err, out.String())
		t.Logf("load:\n%s", out.String())
		require.Contains(t, out.String(), fmt.Sprintf("published %d of %d events", events, events))
		require.Contains(t, out.String(), "rejected 3 rows")
	}
	// the processor's configuration, like the crash test's binary's
	config := func() Config {
		var sets []string
		args := p.args()
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--set" {
				sets = append(sets, args[i+1])
			}
		}
		cfg, err := loadConfig("", nil, sets)
		require.NoError(t, err)
		return cfg
	}
	// the processor, in-process
	process := func() processedCounts {
		cfg := config()
		// Scores relative to the population (quantiles, Pareto) move when
		// the population does, and the processor re-scores duplicates too:
		// the second run, which starts with the first run's customers in
		// its population, would then publish changes that have nothing to
		// do with the import. Fixed thresholds keep scoring a function of
		// the customer's state, so any change would come from the import.
		cfg.Scoring.Mode = scoring.ModeThresholds
		cfg.Scoring.Segmentations = slices.DeleteFunc(slices.Clone(cfg.Scoring.Segmentations),
			func(s scoring.Segmentation) bool { return s.Name == "pareto" })
		a, err := newApp(cfg, newLogger(cfg.Log, logWriter{t}), appOptions{now: func() time.Time { return now }})
		require.NoError(t, err)
		a.listener, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.run(rctx) }()
		testenv.Wait(t, 2*time.Minute, func() bool { return caughtUp(t, p.brokers, p.group(), p.input()) })
		stop()
		require.NoError(t, <-done)
		return eventCounts(a.reg)
	}
	customersOf := func(file string) []string {
		res, err := parseOrders(mustOpen(t, file), file, loadOptions{})
		require.NoError(t, err)
		var customers []string
		for _, e := range res.Events {
			if !slices.Contains(customers, e.Event.CustomerID) {
				customers = append(customers, e.Event.CustomerID)
			}
		}
		return customers
	}
	customers := customersOf(extendedFile)
	require.Len(t, customers, 6)
	store := p.store(t)
	rdb := testenv.RedisClient(t)
	// snapshot is every customer's state (nil: none) as decoded and as
	// stored, but for the offset watermarks, which duplicates advance, and
	// the number of segment changes published
	type snapshot struct {
		state   map[string]*scoring.Customer
		values  map[string]string
		changes int
	}
	take := func() snapshot {
		loaded, err := store.Load(ctx, customers)
		require.NoError(t, err)
		s := snapshot{state: map[string]*scoring.Customer{}, values: map[string]string{}}
		for i, c := range customers {
			if loaded[i].Found {
				s.state[c] = &loaded[i].State.Customer
			}
			v, err := rdb.Get(ctx, store.CustomerKey(c)).Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			require.NoError(t, err)
			s.values[c] = string(v[2+16*int(v[1]):]) // the stored value after its watermarks

		}
		s.changes = len(kafkatest.ReadAll(t, p.brokers, p.topic("segment-changes")))
		return s
	}

	load(originalFile, 9+longOrders)
	first := process()
	require.Equal(t, int64(9+longOrders), first.applied, "first import: %+v", first)
	state1 := take()
	require.Positive(t, state1.changes)
	require.Nil(t, state1.state["20000"])
	// exact money from the file: 139.12 + 22.20 + 11.10 for 17850; 15.30
	// minus the 2.55 cancellation for 14527; 2.50 * (1 + ... + 25) for the
	// long history
	require.Equal(t, int64(17242), state1.state["17850"].Money)
	require.Equal(t, int64(3), state1.state["17850"].Purchases)
	require.Equal(t, int64(1275), state1.state["14527"].Money)
	require.Equal(t, int64(1), state1.state["14527"].Refunds)
	require.Equal(t, int64(81250), state1.state[long].Money)
	require.Equal(t, int64(longOrders), state1.state[long].Purchases)

	// the same file again
	load(originalFile, 9+longOrders)
	second := process()
	require.Zero(t, second.applied, "second import: %+v", second)
	require.Equal(t, int64(9+longOrders), second.duplicates, "second import: %+v", second)
	state2 := take()
	require.Equal(t, state1.state, state2.state)
	require.Equal(t, state1.values, state2.values)
	require.Equal(t, state1.changes, state2.changes, "the second import published segment changes")

	// the file with later orders added: only those are applied
	load(extendedFile, 9+longOrders+3)
	third := process()
	require.Equal(t, int64(3), third.applied, "extended import: %+v", third)
	require.Equal(t, int64(9+longOrders), third.duplicates, "extended import: %+v", third)
	state3 := take()
	for _, c := range customers {
		if c != long && c != "17850" && c != "20000" {
			require.Equal(t, state1.state[c], state3.state[c], "customer %s", c)
			require.Equal(t, state1.values[c], state3.values[c], "customer %s", c)
		}
	}
	// the state of the first import plus the new orders is the state the
	// extended file's events give when applied once each
	res, err := parseOrders(mustOpen(t, extendedFile), extendedFile, loadOptions{})
	require.NoError(t, err)
	onceCfg := config()
	once, err := state.New(rdb, onceCfg.stateConfig())
	require.NoError(t, err)
	want := map[string]*state.State{}
	for i := range res.Events {
		e := &res.Events[i].Event
		st := want[e.CustomerID]
		if st == nil {
			st = &state.State{}
			st.ID = e.CustomerID
			want[e.CustomerID] = st
		}
		outcome, _, err := state.Apply(st, &state.Input{Event: e, Partition: state.PartitionOf("once", 0), Offset: int64(i)}, once.Rules())
		require.NoError(t, err)
		require.Equal(t, state.Applied, outcome, "event %s", e.ID)
	}
	for _, c := range customers {
		got := *state3.state[c]
		// what the processor records after scoring, which applying the
		// events alone does not write
		got.Published, got.Seq, got.Scores, got.Contrib = nil, 0, [4]int8{}, scoring.Contrib{}
		require.Equal(t, want[c].Customer, got, "customer %s", c)
	}
	require.Equal(t, int64(81250+250), state3.state[long].Money)
	require.Equal(t, int64(17242+250), state3.state["17850"].Money)
	require.Equal(t, int64(4), state3.state["17850"].Purchases)
	require.Equal(t, int64(250), state3.state["20000"].Money)
	require.Len(t, kafkatest.ReadAll(t, p.brokers, p.input()), 3*(9+longOrders)+3)
}

// caughtUp is kafkatest.CaughtUp for topics with empty partitions: the
// group never commits an offset for a partition without messages, which
// CaughtUp counts as behind.
func caughtUp(t *testing.T, brokers []string, group, topic string) bool {
	committed := kafkatest.Committed(t, brokers, group, topic)
	for p, end := range kafkatest.EndOffsets(t, brokers, topic) {
		if end > 0 && committed[p] < end {
			return false
		}
	}
	return true
}

func mustOpen(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}
