package events

import (
	"math/big"
	"math/bits"
	"strconv"
)

// Money on the wire is a decimal literal; inside it is an int64 count of
// minor units of the base currency. The conversion is exact integer
// arithmetic (uint64 with a 128-bit product on the fast path, math/big
// otherwise); no float64 ever holds money.

// maxDecimalLen bounds the length of a decimal literal (amount, margin,
// rate, items, schema), in bytes.
const maxDecimalLen = 64

// maxExp10 saturates decimal exponents; anything beyond is far outside int64.
const maxExp10 = 1_000_000

// decimal is a parsed decimal literal: value = -1^neg × mant × 10^exp, with
// leading and trailing zeros of the digits stripped (so mant is not a
// multiple of 10 unless it is 0).
type decimal struct {
	mant uint64 // significant digits; valid when !wide
	exp  int
	nd   int  // number of significant digits
	neg  bool // a leading '-' was present (also for "-0")
	wide bool // more than 19 significant digits: use text
	text []byte
}

// parseDecimal parses -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)? (a JSON number,
// with leading zeros also allowed).
func parseDecimal(s []byte) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[intStart:i]
	if len(intPart) == 0 {
		return d, false
	}
	var frac []byte
	if i < len(s) && s[i] == '.' {
		i++
		k := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == k {
			return d, false
		}
		frac = s[k:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		k := i
		for ; i < len(s) && isDigit(s[i]); i++ {
			if exp < maxExp10 {
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if i == k {
			return d, false
		}
		exp = min(exp, maxExp10)
		if neg {
			exp = -exp
		}
	}
	if i != len(s) {
		return d, false
	}
	zeros := 0 // zeros seen since the last non-zero digit
	for _, part := range [2][]byte{intPart, frac} {
		for _, c := range part {
			if c == '0' {
				if d.nd > 0 {
					zeros++
				}
				continue
			}
			d.nd += zeros + 1
			if d.nd > 19 {
				d.wide = true
			} else {
				for ; zeros > 0; zeros-- {
					d.mant *= 10
				}
				d.mant = d.mant*10 + uint64(c-'0')
			}
			zeros = 0
		}
	}
	d.exp = exp - len(frac) + zeros
	if d.wide {
		d.text = s
	}
	return d, true
}

// isZero reports whether d is 0 (or -0).
func (d *decimal) isZero() bool { return d.nd == 0 }

// bigMant returns m and e with |d| = m × 10^e.
func (d *decimal) bigMant() (*big.Int, int) {
	if !d.wide {
		return new(big.Int).SetUint64(d.mant), d.exp
	}
	// Collect all digits of the integer and fraction parts, stopping at
	// the exponent. d.exp = litExp - fracLen + tz, where tz trailing zeros
	// were dropped from the significant digits (a wide literal has non-zero
	// digits, so tz is the number of trailing zeros of all the digits);
	// keeping them gives the exponent litExp - fracLen = d.exp - tz.
	digits := make([]byte, 0, len(d.text))
	for _, c := range d.text {
		if c == 'e' || c == 'E' {
			break
		}
		if isDigit(c) {
			digits = append(digits, c)
		}
	}
	tz := 0
	for j := len(digits) - 1; j >= 0 && digits[j] == '0'; j-- {
		tz++
	}
	m, _ := new(big.Int).SetString(string(digits), 10)
	return m, d.exp - tz
}

// moneyResult is the outcome of a conversion to minor units.
type moneyResult uint8

const (
	moneyOK       moneyResult = iota
	moneyInexact              // not a whole number of minor units (base currency only)
	moneyOverflow             // outside ±(2^63-1) minor units
)

const maxInt64 = 1<<63 - 1

var pow10 = [20]uint64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// toMinor returns v × rate × 10^minorUnits as an integer. With rate nil (the
// base currency) the result must be exact; otherwise it is rounded half to
// even. The sign of v is kept; |result| <= 2^63-1.
func toMinor(v *decimal, rate *decimal, minorUnits int) (int64, moneyResult) {
	if v.wide || rate != nil && rate.wide {
		return toMinorBig(v, rate, minorUnits)
	}
	if v.mant == 0 {
		return 0, moneyOK
	}
	m, k := v.mant, v.exp+minorUnits
	if rate != nil {
		hi, lo := bits.Mul64(m, rate.mant)
		if hi != 0 {
			return toMinorBig(v, rate, minorUnits)
		}
		m, k = lo, k+rate.exp
	}
	var q uint64
	switch {
	case k >= 0:
		if k >= len(pow10) {
			return 0, moneyOverflow
		}
		hi, lo := bits.Mul64(m, pow10[k])
		if hi != 0 || lo > maxInt64 {
			return 0, moneyOverflow
		}
		q = lo
	case rate == nil:
		// m has no trailing zeros, so m × 10^k is not an integer.
		return 0, moneyInexact
	case -k >= len(pow10):
		// m < 2^64 < 10^20 / 2: rounds to 0.
		q = 0
	default:
		p := pow10[-k]
		var rem uint64
		q, rem = m/p, m%p
		if half := p / 2; rem > half || rem == half && q&1 == 1 {
			q++
		}
		if q > maxInt64 {
			return 0, moneyOverflow
		}
	}
	if v.neg {
		return -int64(q), moneyOK
	}
	return int64(q), moneyOK
}

// toMinorBig is toMinor for operands beyond the uint64 fast path.
func toMinorBig(v *decimal, rate *decimal, minorUnits int) (int64, moneyResult) {
	m, k := v.bigMant()
	k += minorUnits
	if rate != nil {
		rm, re := rate.bigMant()
		m.Mul(m, rm)
		k += re
	}
	if m.Sign() == 0 {
		return 0, moneyOK
	}
	ten := big.NewInt(10)
	if k >= 0 {
		if k > 19 {
			return 0, moneyOverflow
		}
		m.Mul(m, new(big.Int).Exp(ten, big.NewInt(int64(k)), nil))
	} else {
		// m < 10^nd; if 10^-k > 10 × m the quotient rounds to 0 and
		// is not exact.
		nd := len(m.Text(10))
		if -k > nd+1 {
			if rate == nil {
				return 0, moneyInexact
			}
			return 0, moneyOK
		}
		p := new(big.Int).Exp(ten, big.NewInt(int64(-k)), nil)
		rem := new(big.Int)
		m.QuoRem(m, p, rem)
		if rem.Sign() != 0 {
			if rate == nil {
				return 0, moneyInexact
			}
			c := rem.Lsh(rem, 1).Cmp(p)
			if c > 0 || c == 0 && m.Bit(0) == 1 {
				m.Add(m, big.NewInt(1))
			}
		}
	}
	if m.BitLen() > 63 {
		return 0, moneyOverflow
	}
	q := m.Int64()
	if v.neg {
		q = -q
	}
	return q, moneyOK
}

// FormatMoney formats an amount of minor units as an exact decimal string
// with minorUnits decimal places: FormatMoney(12345, 2) is "123.45",
// FormatMoney(-5, 2) is "-0.05", FormatMoney(7, 0) is "7". A negative
// minorUnits counts as 0.
func FormatMoney(minor int64, minorUnits int) string {
	var buf [48]byte
	return string(AppendMoney(buf[:0], minor, minorUnits))
}

// AppendMoney appends FormatMoney(minor, minorUnits) to dst.
func AppendMoney(dst []byte, minor int64, minorUnits int) []byte {
	u := uint64(minor)
	if minor < 0 {
		dst = append(dst, '-')
		u = -u // two's complement: also right for math.MinInt64
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	if minorUnits <= 0 {
		return append(dst, digits...)
	}
	if len(digits) <= minorUnits {
		dst = append(dst, '0', '.')
		for range minorUnits - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	cut := len(digits) - minorUnits
	dst = append(dst, digits[:cut]...)
	dst = append(dst, '.')
	return append(dst, digits[cut:]...)
}
