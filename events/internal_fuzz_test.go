package events

import (
	"strings"
	"testing"
	"time"
)

// FuzzToMinor compares the integer money conversion with the big.Rat
// reference on arbitrary literals.
func FuzzToMinor(f *testing.F) {
	for _, s := range []string{"12.34", "-0.5", "1e2", "92233720368547758.07", "0.000000000000000000000001e25", "1234567890123456789012.5"} {
		f.Add(s, uint8(0), uint8(2))
	}
	rates := []string{"", "1.0837", "0.0064", "1.27", "123456789.123456789012345", "0.00000000000000000001"}
	f.Fuzz(func(t *testing.T, s string, rateIdx, minorUnits uint8) {
		if len(s) > maxDecimalLen {
			return
		}
		d, ok := parseDecimal([]byte(s))
		if !ok {
			return
		}
		if d.exp > 1000 || d.exp < -1000 {
			return // the reference would build a huge power of ten
		}
		rs := rates[int(rateIdx)%len(rates)]
		mu := int(minorUnits) % (maxMinorUnits + 1)
		var rd *decimal
		if rs != "" {
			x, _ := parseDecimal([]byte(rs))
			rd = &x
		}
		got, gotRes := toMinor(&d, rd, mu)
		want, wantRes := refMinor(s, rs, mu)
		if got != want || gotRes != wantRes {
			t.Fatalf("%s × %q, %d minor units: got %d (%d), want %d (%d)", s, rs, mu, got, gotRes, want, wantRes)
		}
	})
}

// FuzzParseTime checks the RFC 3339 parser against time.Parse: whatever it
// accepts, time.Parse reads as the same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-05-01T10:00:00Z", "2024-02-29t10:00:00.123456789+02:00", "1970-01-01T00:00:00-23:59", "2023-02-29T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		if !ok {
			return
		}
		// time.Parse wants upper-case T and Z.
		u := []byte(s)
		u[10] = 'T'
		if u[len(u)-1] == 'z' {
			u[len(u)-1] = 'Z'
		}
		want, err := time.Parse(time.RFC3339Nano, string(u))
		if err != nil {
			if strings.HasSuffix(err.Error(), "time zone offset hour out of range") {
				return // time.Parse limits offsets to ±24h, as we do to ±23:59
			}
			t.Fatalf("parseTime accepted %q, time.Parse: %v", s, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("%q: got %v, want %v", s, got, want)
		}
	})
}
