package events

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// DecoderConfig configures a Decoder. The zero value is usable: it accepts
// USD amounts only.
type DecoderConfig struct {
	// BaseCurrency is the ISO 4217 code all money is converted to and kept
	// in. Default: "USD".
	BaseCurrency string

	// MinorUnits is the number of decimal places of the base currency's
	// minor unit: amounts are kept as integers of 10^-MinorUnits base
	// currency units. 0..18.
	// Default: the ISO 4217 minor unit of BaseCurrency (2 for USD and EUR,
	// 0 for JPY and KRW, 3 for KWD, ...), 2 for codes not in the table.
	MinorUnits int

	// Rates maps a currency code to how many base-currency units one unit
	// of that currency is worth, as a positive decimal string, for example
	// {"EUR": "1.0837"} with USD as the base currency. The base currency is
	// implicitly 1 (if listed, its rate must be 1). An event in a currency
	// that is neither the base currency nor in Rates is rejected.
	// Default: none (only the base currency is accepted).
	Rates map[string]string

	// MaxFutureSkew is how far an event's time may lie after Now().
	// Default: 5m.
	MaxFutureSkew time.Duration

	// Now returns the current time, for the future-skew check.
	// Default: time.Now.
	Now func() time.Time

	// MaxEventBytes is the largest record value accepted, in bytes
	// (headers are not counted). Default: 65536 (64 KiB).
	MaxEventBytes int
}

// Defaults of DecoderConfig.
const (
	DefaultBaseCurrency  = "USD"
	DefaultMaxFutureSkew = 5 * time.Minute
	DefaultMaxEventBytes = 64 << 10
)

// maxMinorUnits keeps 10^MinorUnits within int64 with room for amounts.
const maxMinorUnits = 18

// isoMinorUnits lists the ISO 4217 currencies whose minor unit is not 2
// decimal places.
var isoMinorUnits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
	"KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
	"XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

func (c *DecoderConfig) setDefaults() {
	if c.BaseCurrency == "" {
		c.BaseCurrency = DefaultBaseCurrency
	}
	if c.MinorUnits == 0 {
		if n, ok := isoMinorUnits[c.BaseCurrency]; ok {
			c.MinorUnits = n
		} else {
			c.MinorUnits = 2
		}
	}
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
}

// Validate checks the configuration as NewDecoder would use it, after
// applying the defaults to a copy.
func (c DecoderConfig) Validate() error {
	c.setDefaults()
	_, err := c.compile()
	return err
}

// compile validates c (with defaults applied) and parses the rates.
func (c *DecoderConfig) compile() (map[string]*rate, error) {
	if !isCurrencyCode(c.BaseCurrency) {
		return nil, fmt.Errorf("events: base_currency: %q is not an ISO 4217 code (3 upper-case letters)", c.BaseCurrency)
	}
	if c.MinorUnits < 0 || c.MinorUnits > maxMinorUnits {
		return nil, fmt.Errorf("events: minor_units: %d is out of range 0..%d", c.MinorUnits, maxMinorUnits)
	}
	if c.MaxFutureSkew < 0 {
		return nil, fmt.Errorf("events: max_future_skew: %s must not be negative", c.MaxFutureSkew)
	}
	if c.MaxEventBytes < 0 {
		return nil, fmt.Errorf("events: max_event_bytes: %d must not be negative", c.MaxEventBytes)
	}
	rates := make(map[string]*rate, len(c.Rates)+1)
	rates[c.BaseCurrency] = &rate{code: c.BaseCurrency, base: true}
	for _, code := range slices.Sorted(maps.Keys(c.Rates)) {
		s := c.Rates[code]
		if !isCurrencyCode(code) {
			return nil, fmt.Errorf("events: rates[%q]: %q is not an ISO 4217 code (3 upper-case letters)", code, code)
		}
		if len(s) > maxDecimalLen {
			return nil, fmt.Errorf("events: rates[%q]: %q is longer than %d bytes", code, s, maxDecimalLen)
		}
		d, ok := parseDecimal([]byte(s))
		if !ok || d.neg || d.isZero() {
			return nil, fmt.Errorf("events: rates[%q]: %q is not a positive decimal", code, s)
		}
		if code == c.BaseCurrency {
			if d.wide || d.mant != 1 || d.exp != 0 {
				return nil, fmt.Errorf("events: rates[%q]: %q must be 1 for the base currency", code, s)
			}
			continue
		}
		rates[code] = &rate{code: code, dec: d}
	}
	return rates, nil
}

// rate is a currency the decoder accepts.
type rate struct {
	code string  // interned currency code, shared by every decoded event
	base bool    // the base currency: amounts must be exact
	dec  decimal // base-currency units per unit of this currency
}

func isCurrencyCode(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// Decoder decodes and validates input events. It is immutable and safe for
// concurrent use.
type Decoder struct {
	base       string
	minorUnits int
	rates      map[string]*rate
	skew       time.Duration
	now        func() time.Time
	maxBytes   int
	skewRule   string
}

// NewDecoder returns a Decoder for cfg, after applying the defaults and
// validating it. Errors name the configuration key and the bad value.
func NewDecoder(cfg DecoderConfig) (*Decoder, error) {
	cfg.setDefaults()
	rates, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Decoder{
		base:       cfg.BaseCurrency,
		minorUnits: cfg.MinorUnits,
		rates:      rates,
		skew:       cfg.MaxFutureSkew,
		now:        cfg.Now,
		maxBytes:   cfg.MaxEventBytes,
		skewRule:   "must not be more than " + cfg.MaxFutureSkew.String() + " after the current time",
	}, nil
}

// BaseCurrency returns the ISO 4217 code amounts are converted to.
func (d *Decoder) BaseCurrency() string { return d.base }

// MinorUnits returns the number of decimal places of the minor unit amounts
// are kept in.
func (d *Decoder) MinorUnits() int { return d.minorUnits }

func (d *Decoder) tooLarge(n int) error {
	return &DecodeError{
		Rule:   "message of " + strconv.Itoa(n) + " bytes exceeds the limit of " + strconv.Itoa(d.maxBytes) + " bytes",
		Reason: ReasonTooLarge,
	}
}
