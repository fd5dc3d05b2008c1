package events_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

// purchaseWith returns a valid purchase with the given amount (raw JSON
// value), currency and extra members.
func purchaseWith(amount, currency, extra string) string {
	s := `{"id":"e-1","type":"purchase","customer_id":"c-1","time":"2024-05-01T10:00:00Z","order_id":"o-1",` +
		`"amount":` + amount + `,"currency":"` + currency + `"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func TestDecodeAmounts(t *testing.T) {
	t.Parallel()
	d := newDecoder(t) // USD, 2 minor units; EUR 1.0837, JPY 0.0064, GBP 1.27
	tests := []struct {
		amount, currency string
		want             int64
		rule             string // non-empty: the decode fails with this rule
	}{
		// Base currency: exact or rejected.
		{`"12.34"`, "USD", 1234, ""},
		{`12.34`, "USD", 1234, ""},
		{`12`, "USD", 1200, ""},
		{`1e2`, "USD", 10000, ""},
		{`1E+2`, "USD", 10000, ""},
		{`"1e2"`, "USD", 10000, ""},
		{`1.2e1`, "USD", 1200, ""},
		{`125e-2`, "USD", 125, ""},
		{`"1.50"`, "USD", 150, ""},
		{`"1.500"`, "USD", 150, ""},
		{`"1.00000000000000000000000000000000000000000000000000000000000"`, "USD", 100, ""},
		{`0.000000000000000000000000000001e30`, "USD", 100, ""},
		{`"0.01"`, "USD", 1, ""},
		{`"007.50"`, "USD", 750, ""},
		{`"12345678901234567.89"`, "USD", 1234567890123456789, ""},
		{`"92233720368547758.07"`, "USD", math.MaxInt64, ""},
		{`9.223372036854775807e16`, "USD", math.MaxInt64, ""},
		{`"1.005"`, "USD", 0, "must have at most 2 decimal places in USD"},
		{`0.001`, "USD", 0, "must have at most 2 decimal places in USD"},
		{`"12.345e1"`, "USD", 12345, ""},
		{`"12.345e-1"`, "USD", 0, "must have at most 2 decimal places in USD"},
		{`"0.1000000000000000000000000001"`, "USD", 0, "must have at most 2 decimal places in USD"},
		{`"92233720368547758.08"`, "USD", 0, "must be within ±92233720368547758.07 USD after conversion"},
		{`"123456789012345678.9"`, "USD", 0, "must be within"},
		{`"12345678901234567890123"`, "USD", 0, "must be within"},
		{`1e18`, "USD", 0, "must be within"},

		// Converted: rounded half to even to the cent.
		{`"10.05"`, "EUR", 1089, ""}, // 1089.1185
		{`"0.50"`, "EUR", 54, ""},    // 54.185
		{`"50"`, "EUR", 5418, ""},    // 5418.5 -> even 5418
		{`"150"`, "EUR", 16256, ""},  // 16255.5 -> even 16256
		{`"0.005"`, "EUR", 1, ""},    // 0.54185
		{`"0.5"`, "GBP", 64, ""},     // 63.5 -> even 64
		{`"1.5"`, "GBP", 190, ""},    // 190.5 -> even 190
		{`"2.5"`, "GBP", 318, ""},    // 317.5 -> even 318
		{`"1000"`, "JPY", 640, ""},   // 640
		{`1`, "JPY", 1, ""},          // 0.64
		{`"0.78125"`, "JPY", 0, "must be greater than 0 after conversion to USD"}, // 0.5 -> even 0
		{`"2.34375"`, "JPY", 2, ""}, // 1.5 -> even 2
		{`"1.0000000000000000000000001"`, "EUR", 108, ""},
		{`"8510000000000000000"`, "EUR", 0, "must be within"},
		{`"0.001"`, "EUR", 0, "must be greater than 0 after conversion to USD"},
		{`1e-400`, "EUR", 0, "must be greater than 0 after conversion to USD"},
	}
	for _, tt := range tests {
		t.Run(tt.currency+" "+tt.amount, func(t *testing.T) {
			t.Parallel()
			ev, err := d.Decode(nil, []byte(purchaseWith(tt.amount, tt.currency, "")), nil)
			if tt.rule != "" {
				require.Error(t, err)
				require.Equal(t, events.ReasonInvalidField, events.ReasonOf(err))
				require.Contains(t, err.Error(), `field "amount"`)
				require.Contains(t, err.Error(), tt.rule)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, ev.Purchase.Amount)
			require.Equal(t, tt.currency, ev.Purchase.Currency)
		})
	}
}

func TestDecodeMargin(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	tests := []struct {
		margin, currency string
		want             int64
	}{
		{`"0"`, "USD", 0},
		{`-0`, "USD", 0},
		{`"-2.50"`, "USD", -250},
		{`3.1`, "USD", 310},
		{`"-50"`, "EUR", -5418}, // -5418.5 -> even -5418
		{`"-150"`, "EUR", -16256},
		{`"-0.50"`, "EUR", -54},
		{`"-92233720368547758.07"`, "USD", -math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.currency+" "+tt.margin, func(t *testing.T) {
			t.Parallel()
			ev, err := d.Decode(nil, []byte(purchaseWith(`"1"`, tt.currency, `"margin":`+tt.margin)), nil)
			require.NoError(t, err)
			require.True(t, ev.Purchase.HasMargin)
			require.Equal(t, tt.want, ev.Purchase.Margin)
		})
	}
}

func TestMoneySumsExactly(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	var sum int64
	for _, a := range []string{`"0.1"`, `"0.2"`} {
		ev, err := d.Decode(nil, []byte(purchaseWith(a, "USD", "")), nil)
		require.NoError(t, err)
		sum += ev.Purchase.Amount
	}
	ev, err := d.Decode(nil, []byte(purchaseWith(`0.3`, "USD", "")), nil)
	require.NoError(t, err)
	require.Equal(t, int64(30), sum)
	require.Equal(t, ev.Purchase.Amount, sum)
	require.Equal(t, "0.30", events.FormatMoney(sum, 2))
	f1, f2 := 0.1, 0.2
	require.NotEqual(t, 0.3, f1+f2) // what float64 money would have got wrong
}

func TestDecodeRefund(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	ev, err := d.Decode(nil, []byte(purchaseWith(`"5.00"`, "USD", `"kind":"refund","margin":"-1.00"`)), nil)
	require.NoError(t, err)
	require.True(t, ev.Purchase.Refund)
	require.Equal(t, int64(500), ev.Purchase.Amount, "refund amounts are positive; Refund says they reduce monetary value")
	require.Equal(t, int64(-100), ev.Purchase.Margin)

	_, err = d.Decode(nil, []byte(purchaseWith(`"-5.00"`, "USD", `"kind":"refund"`)), nil)
	require.EqualError(t, err, `events: field "amount": value "-5.00": must be greater than 0`)

	ev, err = d.Decode(nil, []byte(purchaseWith(`"5"`, "USD", `"kind":"sale"`)), nil)
	require.NoError(t, err)
	require.False(t, ev.Purchase.Refund)
}

func TestDecodeMinorUnits(t *testing.T) {
	t.Parallel()
	jpy, err := events.NewDecoder(events.DecoderConfig{
		BaseCurrency: "JPY",
		Rates:        map[string]string{"USD": "156.25"},
		Now:          func() time.Time { return testNow },
	})
	require.NoError(t, err)
	ev, err := jpy.Decode(nil, []byte(purchaseWith(`"1200"`, "JPY", "")), nil)
	require.NoError(t, err)
	require.Equal(t, int64(1200), ev.Purchase.Amount)
	_, err = jpy.Decode(nil, []byte(purchaseWith(`"1200.5"`, "JPY", "")), nil)
	require.ErrorContains(t, err, "must have at most 0 decimal places in JPY")
	ev, err = jpy.Decode(nil, []byte(purchaseWith(`"0.01"`, "USD", "")), nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), ev.Purchase.Amount) // 1.5625 -> 2

	kwd, err := events.NewDecoder(events.DecoderConfig{BaseCurrency: "KWD", Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ev, err = kwd.Decode(nil, []byte(purchaseWith(`"1.005"`, "KWD", "")), nil)
	require.NoError(t, err)
	require.Equal(t, int64(1005), ev.Purchase.Amount)
}

func TestFormatMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		minor int64
		units int
		want  string
	}{
		{0, 2, "0.00"},
		{5, 2, "0.05"},
		{-5, 2, "-0.05"},
		{50, 2, "0.50"},
		{12345, 2, "123.45"},
		{-12345, 2, "-123.45"},
		{100, 2, "1.00"},
		{-12345, 0, "-12345"},
		{7, -1, "7"},
		{1, 3, "0.001"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{math.MaxInt64, 18, "9.223372036854775807"},
		{1, 18, "0.000000000000000001"},
		{math.MinInt64, 19, "-0.9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, events.FormatMoney(tt.minor, tt.units))
			require.Equal(t, "x"+tt.want, string(events.AppendMoney([]byte("x"), tt.minor, tt.units)))
		})
	}
	require.Equal(t, "123.45 USD", events.Money{Minor: 12345, MinorUnits: 2, Currency: "USD"}.String())
	require.False(t, strings.Contains(events.FormatMoney(1, 2), "e"))
}
