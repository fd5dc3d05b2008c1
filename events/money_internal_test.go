package events

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refMinor is the reference for toMinor, written with big.Rat.
func refMinor(v, rate string, minorUnits int) (int64, moneyResult) {
	x, ok := new(big.Rat).SetString(v)
	if !ok {
		panic(v)
	}
	if rate != "" {
		r, ok := new(big.Rat).SetString(rate)
		if !ok {
			panic(rate)
		}
		x.Mul(x, r)
	}
	x.Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(minorUnits)), nil)))
	neg := x.Sign() < 0
	x.Abs(x)
	q, rem := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		if rate == "" {
			return 0, moneyInexact
		}
		c := new(big.Int).Lsh(rem, 1).Cmp(x.Denom())
		if c > 0 || c == 0 && q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	if q.BitLen() > 63 {
		return 0, moneyOverflow
	}
	if neg {
		return -q.Int64(), moneyOK
	}
	return q.Int64(), moneyOK
}

func randDigits(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		// Favor zeros so that leading/trailing zero handling is exercised.
		if r.IntN(3) == 0 {
			b.WriteByte('0')
		} else {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	return b.String()
}

func randDecimal(r *rand.Rand) string {
	s := ""
	if r.IntN(4) == 0 {
		s = "-"
	}
	s += randDigits(r, 1+r.IntN(22))
	if r.IntN(2) == 0 {
		s += "." + randDigits(r, 1+r.IntN(22))
	}
	if r.IntN(3) == 0 {
		s += fmt.Sprintf("e%d", r.IntN(60)-30)
	}
	return s
}

// TestToMinorMatchesReference compares the integer conversion with a big.Rat
// reference on random literals and rates, covering the uint64 fast path,
// the 128-bit product and the math/big path.
func TestToMinorMatchesReference(t *testing.T) {
	t.Parallel()
	rates := []string{"", "1.0837", "0.0064", "1.27", "156.25", "1", "1000000", "0.5",
		"123456789.123456789012345", "0.00000000000000000001", "99999999999999999999"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50000 {
		v := randDecimal(r)
		rs := rates[r.IntN(len(rates))]
		mu := r.IntN(maxMinorUnits + 1)
		if i%2 == 0 {
			mu = 2
		}
		d, ok := parseDecimal([]byte(v))
		if !ok {
			t.Fatalf("parseDecimal(%q) failed", v)
		}
		var rd *decimal
		if rs != "" {
			x, ok := parseDecimal([]byte(rs))
			require.True(t, ok)
			rd = &x
		}
		got, gotRes := toMinor(&d, rd, mu)
		want, wantRes := refMinor(v, rs, mu)
		if got != want || gotRes != wantRes {
			t.Fatalf("%s × %q, %d minor units: got %d (%d), want %d (%d)", v, rs, mu, got, gotRes, want, wantRes)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	valid := []struct {
		s    string
		mant uint64
		exp  int
		nd   int
		neg  bool
		wide bool
	}{
		{"0", 0, 0, 0, false, false},
		{"-0.000", 0, -3, 0, true, false},
		{"12.34", 1234, -2, 4, false, false},
		{"12.3400", 1234, -2, 4, false, false},
		{"1200", 12, 2, 2, false, false},
		{"00120.0", 12, 1, 2, false, false},
		{"1.05e3", 105, 1, 3, false, false},
		{"-7E-2", 7, -2, 1, true, false},
		{"1000000000000000000000", 1, 21, 1, false, false},
		{"9999999999999999999", 9999999999999999999, 0, 19, false, false},
		{"10000000000000000001", 0, 0, 20, false, true},
	}
	for _, tt := range valid {
		d, ok := parseDecimal([]byte(tt.s))
		require.True(t, ok, tt.s)
		require.Equal(t, tt.nd, d.nd, tt.s)
		require.Equal(t, tt.neg, d.neg, tt.s)
		require.Equal(t, tt.wide, d.wide, tt.s)
		if !tt.wide {
			require.Equal(t, tt.mant, d.mant, tt.s)
			if tt.nd > 0 {
				require.Equal(t, tt.exp, d.exp, tt.s)
			}
		}
	}
	for _, s := range []string{"", "-", "+1", ".5", "5.", "1..2", "1.2.3", "1e", "1e+", "e5", "1x", " 1", "1 ", "0x10", "1_000", "１"} {
		_, ok := parseDecimal([]byte(s))
		require.False(t, ok, s)
	}
}
