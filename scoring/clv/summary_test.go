package clv

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	day := func(d int, hour int) time.Time {
		return time.Date(2025, 1, d, hour, 0, 0, 0, time.UTC)
	}
	end := day(31, 12)
	cases := []struct {
		name string
		txs  []Transaction
		unit time.Duration
		want []CustomerSummary
	}{
		{
			name: "one purchase",
			txs:  []Transaction{{"a", day(11, 9), 10}},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 0, TX: 0, T: 20}}},
		},
		{
			name: "same day is one purchase with the day's sum",
			txs: []Transaction{
				{"a", day(1, 9), 10}, {"a", day(1, 18), 5},
				{"a", day(8, 1), 4}, {"a", day(8, 23), 6}, {"a", day(15, 12), 20},
			},
			unit: 7 * 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 2, TX: 2, T: 30.0 / 7, Mean: 15}}},
		},
		{
			name: "mean of repeat purchases only",
			txs:  []Transaction{{"a", day(1, 0), 1000}, {"a", day(2, 0), 10}, {"a", day(3, 0), 20}},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 2, TX: 2, T: 30, Mean: 15}}},
		},
		{
			name: "after end ignored, first purchase after end excluded",
			txs: []Transaction{
				{"a", day(5, 0), 10}, {"a", day(31, 13), 99}, // 13:00 is after end (12:00)
				{"b", day(31, 13), 50},
			},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 0, TX: 0, T: 26}}},
		},
		{
			name: "purchase on the end day counts",
			txs:  []Transaction{{"a", day(5, 0), 10}, {"a", day(31, 8), 30}},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 1, TX: 26, T: 26, Mean: 30}}},
		},
		{
			name: "refunds net on purchase days, refund-only days ignored",
			txs: []Transaction{
				{"a", day(2, 0), -5},                        // refund before the first purchase: ignored
				{"a", day(3, 0), 40},                        // first purchase
				{"a", day(6, 0), 30}, {"a", day(6, 5), -10}, // repeat purchase worth 20
				{"a", day(9, 0), -30}, // refund-only day
				{"c", day(4, 0), -8},  // only refunds: no summary
			},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"a", Summary{X: 1, TX: 3, T: 28, Mean: 20}}},
		},
		{
			name: "sorted by customer, days in UTC",
			txs: []Transaction{
				{"z", time.Date(2025, 1, 10, 23, 30, 0, 0, time.FixedZone("-2", -2*3600)), 1}, // 11 January UTC
				{"m", day(20, 0), 1},
			},
			unit: 24 * time.Hour,
			want: []CustomerSummary{{"m", Summary{T: 11}}, {"z", Summary{T: 20}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := SummarizeCustomers(tc.txs, end, tc.unit)
			require.Len(t, got, len(tc.want))
			for i := range got {
				require.Equal(t, tc.want[i].Customer, got[i].Customer)
				require.InDelta(t, tc.want[i].X, got[i].X, 1e-12)
				require.InDelta(t, tc.want[i].TX, got[i].TX, 1e-12)
				require.InDelta(t, tc.want[i].T, got[i].T, 1e-12)
				require.InDelta(t, tc.want[i].Mean, got[i].Mean, 1e-12)
			}
			plain := Summarize(tc.txs, end, tc.unit)
			require.Len(t, plain, len(got))
			for i := range plain {
				require.Equal(t, got[i].Summary, plain[i])
			}
		})
	}
}

func TestDayNumber(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(0), dayNumber(time.Date(1970, 1, 1, 23, 59, 59, 0, time.UTC)))
	require.Equal(t, int64(-1), dayNumber(time.Date(1969, 12, 31, 0, 0, 1, 0, time.UTC)))
	require.Equal(t, int64(272), dayNumber(time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC))-dayNumber(time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)))
}
