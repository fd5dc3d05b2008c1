package clv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestReadTransactions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format Format
		in     string
		want   []Transaction
	}{
		{
			name:   "cdnow master with header",
			format: FormatCDNOWMaster,
			in: " customer_id  date number_of_cds  dollar_value\n" +
				" 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n\n 00002 19970112  5   77.00\n",
			want: []Transaction{{"00001", date(1997, 1, 1), 11.77}, {"00002", date(1997, 1, 12), 12}, {"00002", date(1997, 1, 12), 77}},
		},
		{
			name:   "cdnow sample",
			format: FormatCDNOWSample,
			in:     " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n",
			want:   []Transaction{{"00004", date(1997, 1, 1), 29.33}, {"00004", date(1997, 1, 18), 29.73}},
		},
		{
			name:   "csv with aliases, BOM, zones and a kind column",
			format: FormatCSV,
			in: "\ufeffCustomer ID,Order-Date,Revenue,kind,channel\n" +
				"a,2025-03-01,10.5,sale,web\n" +
				"b,2025-03-02T10:00:00+02:00,3,refund,shop\n" +
				"\"c, inc\",2025-03-03 12:30:00,7,,\n",
			want: []Transaction{
				{"a", date(2025, 3, 1), 10.5},
				{"b", time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC), -3},
				{"c, inc", time.Date(2025, 3, 3, 12, 30, 0, 0, time.UTC), 7},
			},
		},
		{
			name:   "json lines",
			format: FormatJSONLines,
			in: `{"id":"e1","type":"purchase","customer_id":"a","time":"2025-03-01T10:00:00Z","order_id":"o1","amount":"12.50","currency":"EUR"}
{"id":"e2","type":"complaint","customer_id":"a","time":"2025-03-02T10:00:00Z","severity":"low"}

{"id":"e3","type":"purchase","customer_id":"a","time":"2025-03-03T10:00:00+01:00","amount":5,"kind":"refund"}
{"specversion":"1.0","id":"e4","source":"shop","type":"purchase","time":"2025-03-04T00:00:00Z","data":{"customer_id":"b","amount":1.25}}
`,
			want: []Transaction{
				{"a", time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), 12.5},
				{"a", time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), -5},
				{"b", date(2025, 3, 4), 1.25},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadTransactions(strings.NewReader(tc.in), tc.format)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i := range got {
				require.Equal(t, tc.want[i].Customer, got[i].Customer)
				require.True(t, tc.want[i].Time.Equal(got[i].Time), "%v != %v", tc.want[i].Time, got[i].Time)
				require.Equal(t, tc.want[i].Amount, got[i].Amount)
			}
		})
	}
}

func TestReadTransactionsErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format Format
		in     string
		line   int
		column string
		msg    string
	}{
		{"cdnow bad date", FormatCDNOWMaster, "id date n v\n 00001 19970101 1 11.77\n 00002 1997013x 1 12.00\n",
			3, `2 "date"`, `clv: read cdnow-master: line 3, column 2 "date": "1997013x": want YYYYMMDD`},
		{"cdnow bad amount", FormatCDNOWSample, " 00004 0001 19970101 2 29.33\n 00004 0001 19970118 2 $29\n",
			2, `5 "dollar_value"`, `clv: read cdnow-sample: line 2, column 5 "dollar_value": "$29": want a finite decimal number`},
		{"cdnow bad count", FormatCDNOWMaster, " 00001 19970101 -1 11.77\n",
			1, `3 "number_of_cds"`, `clv: read cdnow-master: line 1, column 3 "number_of_cds": "-1": want a count`},
		{"cdnow columns", FormatCDNOWSample, " 00001 19970101 1 11.77\n",
			1, "", "clv: read cdnow-sample: line 1: want 5 whitespace-separated columns, have 4"},
		{"csv no amount column", FormatCSV, "customer_id,time,qty\na,2025-01-01,1\n",
			1, "", `clv: read csv: line 1: no amount column in header ["customer_id" "time" "qty"]`},
		{"csv bad time", FormatCSV, "customer_id,time,amount\na,2025-01-01,1\nb,yesterday,2\n",
			3, `2 "time"`, `clv: read csv: line 3, column 2 "time": "yesterday": want RFC 3339`},
		{"csv bad amount", FormatCSV, "id,date,value\na,2025-01-01,1\n\nb,2025-01-02,NaN\n",
			4, `3 "value"`, `clv: read csv: line 4, column 3 "value": "NaN": want a finite decimal number`},
		{"csv empty customer", FormatCSV, "id,date,value\n ,2025-01-01,1\n",
			2, `1 "id"`, `clv: read csv: line 2, column 1 "id": empty customer id`},
		{"csv quotes", FormatCSV, "id,date,value\na,2025-01-01,1\nb,2025-01-02,\"3\n",
			3, "17", `clv: read csv: line 3, column 17: extraneous or missing " in quoted-field`},
		{"csv fields", FormatCSV, "id,date,value\na,2025-01-01\n",
			2, "", `clv: read csv: line 2, column 1: wrong number of fields`},
		{"json syntax", FormatJSONLines, `{"type":"contact"}` + "\n{\"type\": purchase}\n",
			2, "10", `clv: read jsonl: line 2, column 10: invalid character 'p' looking for beginning of value`},
		{"json missing customer", FormatJSONLines, `{"type":"purchase","time":"2025-01-01T00:00:00Z","amount":1}` + "\n",
			1, `"customer_id"`, `clv: read jsonl: line 1, column "customer_id": missing or empty`},
		{"json bad time", FormatJSONLines, `{"type":"purchase","customer_id":"a","time":"2025-01-01","amount":1}` + "\n",
			1, `"time"`, `clv: read jsonl: line 1, column "time": "2025-01-01": want RFC 3339`},
		{"json zero amount", FormatJSONLines, `{"type":"purchase","customer_id":"a","time":"2025-01-01T00:00:00Z","amount":"0"}` + "\n",
			1, `"amount"`, `clv: read jsonl: line 1, column "amount": 0: want > 0`},
		{"json amount type", FormatJSONLines, `{"type":"purchase","customer_id":"a","time":"2025-01-01T00:00:00Z","amount":true}` + "\n",
			1, `"amount"`, `clv: read jsonl: line 1, column "amount": "true": want a finite decimal number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadTransactions(strings.NewReader(tc.in), tc.format)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.msg)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "%T", err)
			require.Equal(t, tc.line, pe.Line)
			if tc.column != "" {
				require.Equal(t, tc.column, pe.Column)
			}
		})
	}
	_, err := ReadTransactions(strings.NewReader(""), Format(42))
	require.EqualError(t, err, "clv: read transactions: unknown format Format(42)")
}

// FuzzReadTransactions checks that no input makes the readers panic and
// that what they return is usable by Summarize. The seeds are in
// testdata/fuzz/FuzzReadTransactions and below.
func FuzzReadTransactions(f *testing.F) {
	f.Add(uint8(FormatCDNOWMaster), " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n")
	f.Add(uint8(FormatCDNOWSample), " 00004 0001 19970101  2   29.33\n")
	f.Add(uint8(FormatCSV), "customer_id,time,amount,kind\na,2025-03-01,10.5,refund\n")
	f.Add(uint8(FormatJSONLines), `{"type":"purchase","customer_id":"a","time":"2025-03-01T10:00:00Z","amount":"12.50"}`+"\n")
	f.Add(uint8(FormatJSONLines), `{"specversion":"1.0","type":"x.purchase","time":"2025-03-04T00:00:00Z","data":{"customer_id":"b","amount":1}}`)
	f.Fuzz(func(t *testing.T, format uint8, in string) {
		txs, err := ReadTransactions(strings.NewReader(in), Format(format%5))
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && pe.Line < 1 {
				t.Fatalf("line %d < 1: %v", pe.Line, err)
			}
			return
		}
		Summarize(txs, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 24*time.Hour)
	})
}
