package scoring

import (
	"crypto/sha256"
	_ "embed" // for the //go:embed of default.yaml
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Score modes.
const (
	ModeQuantile   = "quantile"
	ModeThresholds = "thresholds"
)

// CLV value bases.
const (
	ValueMargin = "margin"
	ValueMoney  = "money"
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("invalid scoring configuration")

//go:embed default.yaml
var defaultYAML []byte

// Config configures scoring: the rolling window, how R, F, M and T scores
// are derived, weighted profiles, segmentations, churn and value, hold-out
// groups and complaint recovery. It is the `scoring:` section of the
// configuration file; Validate's errors name keys under `scoring.`.
//
// Start from DefaultConfig and decode the user's YAML into it: fields the
// user leaves out keep their defaults; lists (profiles, segmentations)
// replace the default lists; maps (caps, compensation, priority) are merged
// into the defaults key by key. Validate also fills zero fields with their
// defaults, except where zero is a meaningful setting (hysteresis,
// cost_to_serve, clv.annual_discount, holdout.percent): their defaults
// come from DefaultConfig only.
type Config struct {
	// Version identifies this configuration in output events.
	// Default: the first 12 hex digits of the SHA-256 of the canonical YAML
	// of the configuration with version empty, so any change of a weight or
	// rule changes it.
	Version string `yaml:"version"`

	// WindowDays is the rolling window of frequency, monetary and margin: a
	// purchase counts while its age in UTC days is at most window_days.
	// Default: 365.
	WindowDays int `yaml:"window_days"`
	// BucketDays is the width of the store's window buckets, in days; it must
	// match the store. A bucket counts while its last day is in the window,
	// so purchases count up to bucket_days - 1 days too long. Default: 7.
	BucketDays int `yaml:"bucket_days"`

	// Mode is how R, F, M and T scores are derived: "quantile" (quintiles of
	// the active population) or "thresholds" (Thresholds). Default: quantile.
	Mode string `yaml:"mode"`
	// Hysteresis is the half-width of the band, as a fraction of the active
	// population, around each quantile boundary inside which a customer keeps
	// the previous score (Customer.Scores). Fixed thresholds have no band.
	// 0 disables it. Default: 0.05.
	Hysteresis float64 `yaml:"hysteresis"`
	// MinPopulation is the number of active customers below which quantile
	// mode falls back to Thresholds. Default: 100.
	MinPopulation int64 `yaml:"min_population"`
	// Thresholds are the fixed cut points of thresholds mode and the fallback
	// of quantile mode. Default: recency_days [30, 60, 120, 240], frequency
	// [1, 2, 4, 8], monetary [50, 150, 400, 1000], tenure_days [90, 180,
	// 365, 730].
	Thresholds Thresholds `yaml:"thresholds"`

	// MinorPerMajor is the number of minor units in one major unit of the
	// base currency (100 for EUR, 1 for JPY); rules see money in major units.
	// Default: 100.
	MinorPerMajor int64 `yaml:"minor_per_major"`
	// CostToServe is the cost of serving one sale, in major units of the
	// base currency; profit = margin - cost_to_serve * frequency. Default: 0.
	CostToServe float64 `yaml:"cost_to_serve"`

	// Caps normalize raw variables in profile weights: x = min(max(v,0)/cap, 1).
	// Merged with the defaults. Default: recency_days 365, tenure_days 730,
	// days_since_contact 365, lifetime_purchases 50, complaints 5,
	// open_complaints 3, open_complaint_severity 4, contacts 20,
	// contacts_since_purchase 10, responses 10, refunds 5, response_rate 1,
	// refund_rate 1, p_alive 1, expected_purchases 12; money variables have no
	// default cap.
	Caps map[string]float64 `yaml:"caps"`

	// Profiles are weighted scores score.<name> in 0..100, in configuration
	// order. Default: retention, upsell, winback (see default.yaml).
	Profiles Profiles `yaml:"profiles"`

	// Segmentations are evaluated in order; each may use the segments of the
	// earlier ones. Default: rfm, value, loyalty, pareto (see default.yaml).
	Segmentations []Segmentation `yaml:"segmentations"`

	// Churn sets the churn-risk levels and the recency heuristic used until a
	// fitted model exists.
	Churn ChurnConfig `yaml:"churn"`
	// CLV sets the horizon and discounting of expected purchases and CLV.
	CLV CLVConfig `yaml:"clv"`
	// Holdout sets the deterministic hold-out group.
	Holdout HoldoutConfig `yaml:"holdout"`
	// Recovery sets complaint-recovery priorities and compensation limits.
	Recovery RecoveryConfig `yaml:"recovery"`

	// MaxDue caps the next due time of a customer with purchases: such a
	// customer is re-evaluated at least this often even if nothing is due,
	// which picks up population and model changes. Default: 720h (30 days).
	MaxDue time.Duration `yaml:"max_due"`
}

// Thresholds are four ascending cut points per variable giving scores 1..5:
// score = 1 + the number of cut points strictly below the value (recency:
// 5 minus that, more recent is better), so a cut point is the inclusive
// upper bound of its band.
type Thresholds struct {
	// RecencyDays: days since the last purchase. Default: [30, 60, 120, 240].
	RecencyDays []float64 `yaml:"recency_days"`
	// Frequency: sales in the window. Default: [1, 2, 4, 8].
	Frequency []float64 `yaml:"frequency"`
	// Monetary: net money in the window, major units. Default: [50, 150, 400, 1000].
	Monetary []float64 `yaml:"monetary"`
	// TenureDays: days since the first purchase. Default: [90, 180, 365, 730].
	TenureDays []float64 `yaml:"tenure_days"`
}

// Profile is a weighted score.
type Profile struct {
	// Name is the profile's name, used as score.<name> in rules; lower-case
	// letters, digits and underscores. Required.
	Name string `yaml:"name"`
	// Weights by variable: recency, frequency, monetary, tenure (or r, f, m,
	// t) weigh the 1..5 scores normalized as (s-1)/4; any other numeric
	// variable is normalized by its cap (Config.Caps). Negative weights are
	// allowed. At least one weight must be non-zero. Default: none.
	Weights map[string]float64 `yaml:"weights"`
}

// Profiles is the ordered list of profiles. In YAML it is either a sequence
// of {name, weights} or a mapping name -> {weights}, whose order is kept.
type Profiles []Profile

// UnmarshalYAML accepts a sequence of profiles or an ordered mapping.
func (p *Profiles) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		var list []Profile
		if err := n.Decode(&list); err != nil {
			return err
		}
		*p = list
		return nil
	case yaml.MappingNode:
		list := make([]Profile, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var pr Profile
			if err := n.Content[i+1].Decode(&pr); err != nil {
				return err
			}
			if pr.Name != "" && pr.Name != n.Content[i].Value {
				return fmt.Errorf("line %d: profile %q has name %q", n.Content[i].Line, n.Content[i].Value, pr.Name)
			}
			pr.Name = n.Content[i].Value
			list = append(list, pr)
		}
		*p = list
		return nil
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*p = nil
			return nil
		}
	}
	return fmt.Errorf("line %d: profiles must be a sequence or a mapping", n.Line)
}

// Segmentation is an ordered list of rules: the first rule whose condition
// holds gives the segment.
type Segmentation struct {
	// Name of the segmentation, used as segment.<name> in later rules, in
	// output events and as the key of Customer.Published; lower-case letters,
	// digits and underscores, not "churn". Required.
	Name string `yaml:"name"`
	// Mode overrides Config.Mode for the r, f, m, t, fm and rfm variables of
	// this segmentation ("quantile" or "thresholds"); the override has no
	// hysteresis. Default: "" (Config.Mode).
	Mode string `yaml:"mode,omitempty"`
	// Rules are tried in order. At least one. Required.
	Rules []Rule `yaml:"rules"`
	// Default is the segment when no rule matches. Default: other.
	Default string `yaml:"default"`
}

// Rule assigns Segment when the expression When is true.
type Rule struct {
	// Segment is the segment name: letters, digits, '_', '-', '.'. Required.
	Segment string `yaml:"segment"`
	// When is a boolean expr-lang expression over the rule variables (see the
	// package documentation). Required.
	When string `yaml:"when"`
}

// ChurnConfig sets churn-risk levels and the recency heuristic.
type ChurnConfig struct {
	// MediumBelow: P(alive) below this is medium risk. Default: 0.5.
	MediumBelow float64 `yaml:"medium_below"`
	// HighBelow: P(alive) below this is high risk. Default: 0.2.
	HighBelow float64 `yaml:"high_below"`
	// DefaultGapDays is the expected days between purchases of a customer
	// with purchases on a single day, for the heuristic. Default: 90.
	DefaultGapDays float64 `yaml:"default_gap_days"`
	// MinGapDays bounds the expected gap from below. Default: 7.
	MinGapDays float64 `yaml:"min_gap_days"`
	// MaxGapDays bounds the expected gap from above. Default: 365.
	MaxGapDays float64 `yaml:"max_gap_days"`
}

// CLVConfig sets the horizon and discounting of expected purchases and CLV.
type CLVConfig struct {
	// HorizonDays is the horizon of expected purchases and CLV. Default: 365.
	HorizonDays int `yaml:"horizon_days"`
	// AnnualDiscount is the yearly discount rate of future value; 0 means no
	// discounting. Default: 0.1.
	AnnualDiscount float64 `yaml:"annual_discount"`
	// Value is what CLV is the value of: "margin" (net margin per sale) or
	// "money" (net money per sale). Default: margin.
	Value string `yaml:"value"`
}

// HoldoutConfig sets the deterministic hold-out group: a customer is held
// out when FNV-1a-64(salt + id) mod 10000 < round(percent*100).
type HoldoutConfig struct {
	// Percent of customers held out, 0..100 in steps of 0.01. Default: 5.
	Percent float64 `yaml:"percent"`
	// Salt varies the group between experiments. Default: clienting.
	Salt string `yaml:"salt"`
}

// RecoveryConfig sets the response to complaints by severity and customer
// value tier (the customer's segment in ValueSegmentation).
type RecoveryConfig struct {
	// ValueSegmentation is the segmentation whose segment is the value tier.
	// Default: value if a segmentation of that name exists, else none (every
	// complaint gets default_priority and default_compensation).
	ValueSegmentation string `yaml:"value_segmentation"`
	// Compensation is the compensation limit per value tier at critical
	// severity, minor units of the base currency. Merged with the defaults.
	// Default: high_performance 5000, high_potential 2500, standard 1000,
	// below_zero 0.
	Compensation map[string]int64 `yaml:"compensation"`
	// DefaultCompensation applies to tiers Compensation does not list.
	// Default: 0.
	DefaultCompensation int64 `yaml:"default_compensation"`
	// SeverityScale multiplies the compensation limit by severity [low,
	// medium, high, critical], each in 0..1. Default: [0.25, 0.5, 0.75, 1].
	SeverityScale []float64 `yaml:"severity_scale"`
	// Priority per value tier by severity [low, medium, high, critical].
	// Merged with the defaults. Default: high_performance [p3, p2, p1, p1],
	// high_potential [p4, p3, p2, p1], standard [p4, p4, p3, p2], below_zero
	// [p4, p4, p4, p3].
	Priority map[string][]string `yaml:"priority"`
	// DefaultPriority applies to tiers Priority does not list.
	// Default: [p4, p4, p3, p2].
	DefaultPriority []string `yaml:"default_priority"`
}

// DefaultConfig returns the shipped configuration, parsed from the embedded
// default.yaml with the defaults of Validate applied. Its Version and
// Recovery.ValueSegmentation are empty: Validate derives them, so a
// configuration decoded over DefaultConfig gets the version of what it
// ends up containing.
func DefaultConfig() Config {
	c := parseDefaultYAML()
	c.setDefaults()
	c.Version, c.Recovery.ValueSegmentation = "", ""
	check := c.clone()
	if err := check.Validate(); err != nil {
		panic(fmt.Sprintf("scoring: embedded default.yaml: %v", err)) // a build defect, caught by the tests
	}
	return c
}

// clone returns a deep copy of c.
func (c *Config) clone() Config {
	out := *c
	t := &out.Thresholds
	t.RecencyDays, t.Frequency = slices.Clone(t.RecencyDays), slices.Clone(t.Frequency)
	t.Monetary, t.TenureDays = slices.Clone(t.Monetary), slices.Clone(t.TenureDays)
	out.Caps = maps.Clone(c.Caps)
	if c.Profiles != nil {
		out.Profiles = make(Profiles, len(c.Profiles))
		for i, p := range c.Profiles {
			out.Profiles[i] = Profile{Name: p.Name, Weights: maps.Clone(p.Weights)}
		}
	}
	if c.Segmentations != nil {
		out.Segmentations = make([]Segmentation, len(c.Segmentations))
		for i, s := range c.Segmentations {
			s.Rules = slices.Clone(s.Rules)
			out.Segmentations[i] = s
		}
	}
	r := &out.Recovery
	r.Compensation = maps.Clone(r.Compensation)
	r.SeverityScale = slices.Clone(r.SeverityScale)
	r.DefaultPriority = slices.Clone(r.DefaultPriority)
	if c.Recovery.Priority != nil {
		r.Priority = make(map[string][]string, len(c.Recovery.Priority))
		for k, v := range c.Recovery.Priority {
			r.Priority[k] = slices.Clone(v)
		}
	}
	return out
}

// DefaultYAML returns the embedded default configuration as YAML.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
)

// Validate applies defaults to zero fields and checks the configuration.
// Its error joins one error per problem, each naming the key, e.g.
// "scoring.segmentations[2].rules[1].when: ...". Rule expressions are
// compiled by NewEngine, not here.
func (c *Config) Validate() error {
	c.setDefaults()
	v := &validator{}
	c.validate(v)
	if len(v.errs) > 0 {
		return errors.Join(v.errs...)
	}
	if c.Version == "" {
		c.Version = c.hash()
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.WindowDays == 0 {
		c.WindowDays = 365
	}
	if c.BucketDays == 0 {
		c.BucketDays = 7
	}
	if c.Mode == "" {
		c.Mode = ModeQuantile
	}
	if c.MinPopulation == 0 {
		c.MinPopulation = 100
	}
	t := &c.Thresholds
	if t.RecencyDays == nil {
		t.RecencyDays = []float64{30, 60, 120, 240}
	}
	if t.Frequency == nil {
		t.Frequency = []float64{1, 2, 4, 8}
	}
	if t.Monetary == nil {
		t.Monetary = []float64{50, 150, 400, 1000}
	}
	if t.TenureDays == nil {
		t.TenureDays = []float64{90, 180, 365, 730}
	}
	if c.MinorPerMajor == 0 {
		c.MinorPerMajor = 100
	}
	if c.Caps == nil {
		c.Caps = make(map[string]float64)
	}
	for k, v := range defaultCaps {
		if _, ok := c.Caps[k]; !ok {
			c.Caps[k] = v
		}
	}
	if c.Profiles == nil || c.Segmentations == nil {
		d := parseDefaultYAML()
		if c.Profiles == nil {
			c.Profiles = d.Profiles
		}
		if c.Segmentations == nil {
			c.Segmentations = d.Segmentations
		}
	}
	for i := range c.Segmentations {
		if c.Segmentations[i].Default == "" {
			c.Segmentations[i].Default = "other"
		}
	}
	ch := &c.Churn
	if ch.MediumBelow == 0 {
		ch.MediumBelow = 0.5
	}
	if ch.HighBelow == 0 {
		ch.HighBelow = 0.2
	}
	if ch.DefaultGapDays == 0 {
		ch.DefaultGapDays = 90
	}
	if ch.MinGapDays == 0 {
		ch.MinGapDays = 7
	}
	if ch.MaxGapDays == 0 {
		ch.MaxGapDays = 365
	}
	if c.CLV.HorizonDays == 0 {
		c.CLV.HorizonDays = 365
	}
	if c.CLV.Value == "" {
		c.CLV.Value = ValueMargin
	}
	if c.Holdout.Salt == "" {
		c.Holdout.Salt = "clienting"
	}
	r := &c.Recovery
	if r.ValueSegmentation == "" && slices.ContainsFunc(c.Segmentations, func(s Segmentation) bool { return s.Name == "value" }) {
		r.ValueSegmentation = "value"
	}
	if r.Compensation == nil {
		r.Compensation = make(map[string]int64)
	}
	for k, v := range defaultCompensation {
		if _, ok := r.Compensation[k]; !ok {
			r.Compensation[k] = v
		}
	}
	if r.SeverityScale == nil {
		r.SeverityScale = []float64{0.25, 0.5, 0.75, 1}
	}
	if r.Priority == nil {
		r.Priority = make(map[string][]string)
	}
	for k, v := range defaultPriority {
		if _, ok := r.Priority[k]; !ok {
			r.Priority[k] = slices.Clone(v)
		}
	}
	if r.DefaultPriority == nil {
		r.DefaultPriority = []string{"p4", "p4", "p3", "p2"}
	}
	if c.MaxDue == 0 {
		c.MaxDue = 30 * 24 * time.Hour
	}
}

var defaultCaps = map[string]float64{
	"recency_days":            365,
	"tenure_days":             730,
	"days_since_contact":      365,
	"lifetime_purchases":      50,
	"complaints":              5,
	"open_complaints":         3,
	"open_complaint_severity": 4,
	"contacts":                20,
	"contacts_since_purchase": 10,
	"responses":               10,
	"refunds":                 5,
	"response_rate":           1,
	"refund_rate":             1,
	"p_alive":                 1,
	"expected_purchases":      12,
}

var defaultCompensation = map[string]int64{
	"high_performance": 5000,
	"high_potential":   2500,
	"standard":         1000,
	"below_zero":       0,
}

var defaultPriority = map[string][]string{
	"high_performance": {"p3", "p2", "p1", "p1"},
	"high_potential":   {"p4", "p3", "p2", "p1"},
	"standard":         {"p4", "p4", "p3", "p2"},
	"below_zero":       {"p4", "p4", "p4", "p3"},
}

// parseDefaultYAML parses default.yaml without validating it.
func parseDefaultYAML() Config {
	var c Config
	if err := yaml.Unmarshal(defaultYAML, &struct {
		Scoring *Config `yaml:"scoring"`
	}{&c}); err != nil {
		panic(fmt.Sprintf("scoring: embedded default.yaml: %v", err))
	}
	return c
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: scoring.%s: %s", ErrConfig, key, fmt.Sprintf(format, args...)))
}

func (c *Config) validate(v *validator) {
	if c.WindowDays < 1 || c.WindowDays > 3650 {
		v.add("window_days", "%d is not in 1..3650", c.WindowDays)
	}
	if c.BucketDays < 1 || c.BucketDays > 366 {
		v.add("bucket_days", "%d is not in 1..366", c.BucketDays)
	} else if c.WindowDays >= 1 && c.BucketDays > c.WindowDays {
		v.add("bucket_days", "%d is longer than window_days %d", c.BucketDays, c.WindowDays)
	}
	if c.Mode != ModeQuantile && c.Mode != ModeThresholds {
		v.add("mode", "%q is not quantile or thresholds", c.Mode)
	}
	if !(c.Hysteresis >= 0 && c.Hysteresis < 0.2) {
		v.add("hysteresis", "%g is not in [0, 0.2)", c.Hysteresis)
	}
	if c.MinPopulation < 1 {
		v.add("min_population", "%d is not positive", c.MinPopulation)
	}
	checkCuts := func(key string, cuts []float64) {
		if len(cuts) != 4 {
			v.add("thresholds."+key, "has %d values, want 4 ascending cut points", len(cuts))
			return
		}
		for i, x := range cuts {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				v.add(fmt.Sprintf("thresholds.%s[%d]", key, i), "%g is not a finite number", x)
				return
			}
			if i > 0 && x <= cuts[i-1] {
				v.add(fmt.Sprintf("thresholds.%s[%d]", key, i), "%g is not above %g: cut points must ascend", x, cuts[i-1])
				return
			}
		}
	}
	checkCuts("recency_days", c.Thresholds.RecencyDays)
	checkCuts("frequency", c.Thresholds.Frequency)
	checkCuts("monetary", c.Thresholds.Monetary)
	checkCuts("tenure_days", c.Thresholds.TenureDays)
	if c.MinorPerMajor < 1 {
		v.add("minor_per_major", "%d is not positive", c.MinorPerMajor)
	}
	if !(c.CostToServe >= 0) || math.IsInf(c.CostToServe, 0) {
		v.add("cost_to_serve", "%g is not a non-negative number", c.CostToServe)
	}
	for _, k := range sortedKeys(c.Caps) {
		x := c.Caps[k]
		vr := variableByName(k)
		if vr == nil || !vr.numeric() {
			v.add("caps."+k, "unknown numeric variable %q", k)
		} else if !(x > 0) || math.IsInf(x, 0) {
			v.add("caps."+k, "%g is not a positive number", x)
		}
	}

	seen := map[string]bool{}
	for i, p := range c.Profiles {
		key := fmt.Sprintf("profiles[%d]", i)
		if !nameRE.MatchString(p.Name) {
			v.add(key+".name", "%q is not a name of lower-case letters, digits and underscores", p.Name)
		} else if seen[p.Name] {
			v.add(key+".name", "duplicate profile %q", p.Name)
		}
		seen[p.Name] = true
		nonZero := false
		for _, w := range sortedKeys(p.Weights) {
			x := p.Weights[w]
			wkey := key + ".weights." + w
			if math.IsNaN(x) || math.IsInf(x, 0) {
				v.add(wkey, "%g is not a finite number", x)
				continue
			}
			nonZero = nonZero || x != 0
			if _, ok := scoreWeightIndex(w); ok {
				continue
			}
			vr := variableByName(w)
			switch {
			case vr == nil || !vr.numeric():
				v.add(wkey, "unknown variable %q: use recency, frequency, monetary, tenure or a numeric metric", w)
			case c.Caps[w] <= 0:
				v.add(wkey, "raw variable %q needs a cap: set scoring.caps.%s", w, w)
			}
		}
		if !nonZero {
			v.add(key+".weights", "profile %q needs at least one non-zero weight", p.Name)
		}
	}

	seen = map[string]bool{}
	for i, s := range c.Segmentations {
		key := fmt.Sprintf("segmentations[%d]", i)
		switch {
		case !nameRE.MatchString(s.Name):
			v.add(key+".name", "%q is not a name of lower-case letters, digits and underscores", s.Name)
		case s.Name == ChurnKey:
			v.add(key+".name", "%q is reserved for the churn-risk level", s.Name)
		case seen[s.Name]:
			v.add(key+".name", "duplicate segmentation %q", s.Name)
		}
		seen[s.Name] = true
		if s.Mode != "" && s.Mode != ModeQuantile && s.Mode != ModeThresholds {
			v.add(key+".mode", "%q is not quantile or thresholds", s.Mode)
		}
		if !segmentRE.MatchString(s.Default) {
			v.add(key+".default", "%q is not a segment name", s.Default)
		}
		if len(s.Rules) == 0 {
			v.add(key+".rules", "segmentation %q has no rules", s.Name)
		}
		for j, r := range s.Rules {
			rkey := fmt.Sprintf("%s.rules[%d]", key, j)
			if !segmentRE.MatchString(r.Segment) {
				v.add(rkey+".segment", "%q is not a segment name (letters, digits, '_', '-', '.')", r.Segment)
			}
			if strings.TrimSpace(r.When) == "" {
				v.add(rkey+".when", "empty expression")
			}
		}
	}

	ch := c.Churn
	if !(ch.HighBelow > 0 && ch.HighBelow < 1) {
		v.add("churn.high_below", "%g is not in (0, 1)", ch.HighBelow)
	}
	if !(ch.MediumBelow > 0 && ch.MediumBelow < 1) {
		v.add("churn.medium_below", "%g is not in (0, 1)", ch.MediumBelow)
	} else if ch.MediumBelow <= ch.HighBelow {
		v.add("churn.medium_below", "%g is not above high_below %g", ch.MediumBelow, ch.HighBelow)
	}
	if !(ch.MinGapDays > 0) {
		v.add("churn.min_gap_days", "%g is not positive", ch.MinGapDays)
	}
	if !(ch.MaxGapDays >= ch.MinGapDays) || math.IsInf(ch.MaxGapDays, 0) {
		v.add("churn.max_gap_days", "%g is not a number >= min_gap_days %g", ch.MaxGapDays, ch.MinGapDays)
	}
	if !(ch.DefaultGapDays > 0) || math.IsInf(ch.DefaultGapDays, 0) {
		v.add("churn.default_gap_days", "%g is not positive", ch.DefaultGapDays)
	}
	if c.CLV.HorizonDays < 1 || c.CLV.HorizonDays > 36500 {
		v.add("clv.horizon_days", "%d is not in 1..36500", c.CLV.HorizonDays)
	}
	if !(c.CLV.AnnualDiscount >= 0 && c.CLV.AnnualDiscount < 10) {
		v.add("clv.annual_discount", "%g is not in [0, 10)", c.CLV.AnnualDiscount)
	}
	if c.CLV.Value != ValueMargin && c.CLV.Value != ValueMoney {
		v.add("clv.value", "%q is not margin or money", c.CLV.Value)
	}
	if !(c.Holdout.Percent >= 0 && c.Holdout.Percent <= 100) {
		v.add("holdout.percent", "%g is not in 0..100", c.Holdout.Percent)
	}

	r := c.Recovery
	if r.ValueSegmentation != "" && !seen[r.ValueSegmentation] {
		v.add("recovery.value_segmentation", "%q is not a configured segmentation", r.ValueSegmentation)
	}
	for _, k := range sortedKeys(r.Compensation) {
		if r.Compensation[k] < 0 {
			v.add("recovery.compensation."+k, "%d is negative", r.Compensation[k])
		}
	}
	if r.DefaultCompensation < 0 {
		v.add("recovery.default_compensation", "%d is negative", r.DefaultCompensation)
	}
	if len(r.SeverityScale) != 4 {
		v.add("recovery.severity_scale", "has %d values, want 4 (low, medium, high, critical)", len(r.SeverityScale))
	}
	for i, x := range r.SeverityScale {
		if !(x >= 0 && x <= 1) {
			v.add(fmt.Sprintf("recovery.severity_scale[%d]", i), "%g is not in 0..1", x)
		}
	}
	checkPrio := func(key string, ps []string) {
		if len(ps) != 4 {
			v.add(key, "has %d values, want 4 (low, medium, high, critical)", len(ps))
		}
		for i, p := range ps {
			if strings.TrimSpace(p) == "" {
				v.add(fmt.Sprintf("%s[%d]", key, i), "empty priority")
			}
		}
	}
	for _, k := range sortedKeys(r.Priority) {
		checkPrio("recovery.priority."+k, r.Priority[k])
	}
	checkPrio("recovery.default_priority", r.DefaultPriority)
	if c.MaxDue < time.Hour {
		v.add("max_due", "%s is shorter than 1h", c.MaxDue)
	}
}

// hash is the default Version: 12 hex digits of the SHA-256 of the YAML of
// the configuration with Version empty. yaml.v3 writes struct fields in
// declaration order and map keys sorted, so the YAML is canonical.
func (c *Config) hash() string {
	cc := *c
	cc.Version = ""
	b, err := yaml.Marshal(&cc)
	if err != nil {
		return "unhashable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
