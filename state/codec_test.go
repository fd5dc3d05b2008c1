package state

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/scoring"
)

// appliedReply is an apply script reply of a customer with seven window
// buckets, published segments, a watermark and the emptied ids field.
var appliedReply = strings.Join([]string{
	"o:customer.events:3", "35864", "ids", "", "fs", "1762894073", "le", "1793339382",
	"n", "8", "m", "45553", "mg", "20037", "pd", "8", "fp", "1762894073", "lp", "1784725156", "kc", "2",
	"20398", "1:6925:3046", "20440", "1:6748:2968", "20454", "1:4512:1985", "20461", "1:8297:3649",
	"20482", "1:5040:2217", "20531", "1:2865:1260", "20538", "1:4587:2018",
	"k", "5", "lk", "1793339382", "p:pareto", "top", "p:churn", "high", "p:rfm", "loyal",
	"p:value", "high_performance", "p:loyalty", "bronze", "sc", "3454", "seq", "11", "cb", "fxs.7.mhbe.fqr",
	"ct", "1", "c2", "1", "lc", "1767983689", "kr", "3",
	"", "", // a bucket the script deleted
	"0",
}, "\n")

func TestDecodeApplied(t *testing.T) {
	var c scoring.Customer
	out, err := decodeApplied("c-1", appliedReply, &c)
	require.NoError(t, err)
	require.Equal(t, Applied, out)
	require.Equal(t, "c-1", c.ID)
	require.Equal(t, int64(8), c.Purchases)
	require.Equal(t, int64(45553), c.Money)
	require.Equal(t, time.Unix(1784725156, 0).UTC(), c.LastPurchase)
	require.Equal(t, int64(1), c.OpenBySeverity[2])
	require.Equal(t, int64(11), c.Seq)
	require.Equal(t, [4]int8{3, 4, 5, 4}, c.Scores)
	require.Equal(t, map[string]string{"pareto": "top", "churn": "high", "rfm": "loyal", "value": "high_performance", "loyalty": "bronze"}, c.Published)
	require.Len(t, c.Window, 7)
	require.Equal(t, scoring.Bucket{Day: 20398, Count: 1, Money: 6925, Margin: 3046}, c.Window[0])
	require.Equal(t, int64(20538), c.Window[6].Day)

	// a redelivery of a customer with one margin-less bucket reuses c's memory
	out, err = decodeApplied("c-2", "n\n1\n20540\n1:-70\np:rfm\nnew\n1", &c)
	require.NoError(t, err)
	require.Equal(t, Redelivery, out)
	require.Equal(t, scoring.Customer{ID: "c-2", Purchases: 1, Window: []scoring.Bucket{{Day: 20540, Count: 1, Money: -70}},
		Published: map[string]string{"rfm": "new"}}, c)

	_, err = decodeApplied("c-3", "2", &c)
	require.NoError(t, err, "a status alone: an empty hash")
	for _, bad := range []string{"", "n\n1\n9", "n\n3", "20540\nx\n0"} {
		_, err := decodeApplied("c-4", bad, &c)
		require.Error(t, err, "%q", bad)
	}
}

// BenchmarkDecodeCustomer decodes the apply script's reply of a customer
// with a year of history: what ApplyBatch does per event.
func BenchmarkDecodeCustomer(b *testing.B) {
	b.Run("apply-reply", func(b *testing.B) {
		var c scoring.Customer
		b.ReportAllocs()
		b.SetBytes(int64(len(appliedReply)))
		for b.Loop() {
			if _, err := decodeApplied("c-1", appliedReply, &c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
