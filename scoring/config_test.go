package scoring

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	require.Empty(t, c.Version, "derived by Validate")
	require.NoError(t, c.Validate())
	require.Len(t, c.Version, 12)
	require.Equal(t, 365, c.WindowDays)
	require.Equal(t, 7, c.BucketDays)
	require.Equal(t, ModeQuantile, c.Mode)
	require.Equal(t, 0.05, c.Hysteresis)
	require.Equal(t, 30*24*time.Hour, c.MaxDue)
	require.Equal(t, []string{"retention", "upsell", "winback"}, []string{c.Profiles[0].Name, c.Profiles[1].Name, c.Profiles[2].Name})
	var names []string
	for _, s := range c.Segmentations {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"rfm", "value", "loyalty", "pareto"}, names)
	require.Len(t, c.Segmentations[0].Rules, 11)
	require.Equal(t, "value", c.Recovery.ValueSegmentation)

	// A zero Config validates to the same rules and windows.
	var z Config
	require.NoError(t, z.Validate())
	require.Equal(t, c.Segmentations, z.Segmentations)
	require.Equal(t, c.Profiles, z.Profiles)
	require.Equal(t, c.Thresholds, z.Thresholds)

	// The version is stable and changes with any weight or rule.
	d := DefaultConfig()
	require.NoError(t, d.Validate())
	require.Equal(t, c.Version, d.Version)
	w := DefaultConfig()
	w.Profiles[0].Weights["recency"] = 0.41
	require.NoError(t, w.Validate())
	require.NotEqual(t, c.Version, w.Version)
	r := DefaultConfig()
	r.Segmentations[0].Rules[0].When = "r >= 5 && fm >= 4"
	require.NoError(t, r.Validate())
	require.NotEqual(t, c.Version, r.Version)
	require.NotEqual(t, w.Version, r.Version)
	v := DefaultConfig()
	v.Version = "2025-06-01"
	require.NoError(t, v.Validate())
	require.Equal(t, "2025-06-01", v.Version, "an explicit version is kept")
}

// TestConfigYAML decodes user YAML over the defaults, as the config loader
// does, in both profile notations.
func TestConfigYAML(t *testing.T) {
	src := `
scoring:
  mode: thresholds
  hysteresis: 0
  caps: {clv: 500}
  profiles:
    vip: {weights: {monetary: 1, clv: 0.5}}
    care: {weights: {open_complaints: -1, recency: 1}}
  segmentations:
    - name: vip
      rules:
        - {segment: yes, when: "score.vip >= 80"}
`
	cfg := DefaultConfig()
	require.NoError(t, yaml.Unmarshal([]byte(src), &struct {
		Scoring *Config `yaml:"scoring"`
	}{&cfg}))
	require.NoError(t, cfg.Validate())
	def := DefaultConfig()
	require.NoError(t, def.Validate())
	require.NotEqual(t, def.Version, cfg.Version)
	require.Equal(t, ModeThresholds, cfg.Mode)
	require.Equal(t, 0.0, cfg.Hysteresis, "an explicit 0 disables hysteresis")
	require.Equal(t, 500.0, cfg.Caps["clv"])
	require.Equal(t, 5.0, cfg.Caps["complaints"], "caps merge with the defaults")
	require.Equal(t, "vip", cfg.Profiles[0].Name)
	require.Equal(t, "care", cfg.Profiles[1].Name)
	require.Equal(t, "other", cfg.Segmentations[0].Default)
	require.Equal(t, "", cfg.Recovery.ValueSegmentation, "no value segmentation configured")
	_, err := NewEngine(cfg)
	require.NoError(t, err)

	seq := "profiles:\n  - name: a\n    weights: {r: 1}\n  - name: b\n    weights: {f: 1}\n"
	var c2 Config
	require.NoError(t, yaml.Unmarshal([]byte(seq), &c2))
	require.Equal(t, Profiles{{Name: "a", Weights: map[string]float64{"r": 1}}, {Name: "b", Weights: map[string]float64{"f": 1}}}, c2.Profiles)

	// The canonical YAML of a config decodes to the same config.
	d := DefaultConfig()
	require.NoError(t, d.Validate())
	b, err := yaml.Marshal(&d)
	require.NoError(t, err)
	var back Config
	require.NoError(t, yaml.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	require.Equal(t, d, back)
}

func TestConfigValidateErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"window", func(c *Config) { c.WindowDays = -1 }, "scoring.window_days: -1 is not in 1..3650"},
		{"bucket longer than window", func(c *Config) { c.WindowDays, c.BucketDays = 30, 60 }, "scoring.bucket_days: 60 is longer than window_days 30"},
		{"mode", func(c *Config) { c.Mode = "quintile" }, `scoring.mode: "quintile" is not quantile or thresholds`},
		{"hysteresis", func(c *Config) { c.Hysteresis = 0.5 }, "scoring.hysteresis: 0.5 is not in [0, 0.2)"},
		{"threshold count", func(c *Config) { c.Thresholds.Frequency = []float64{1, 2, 3} }, "scoring.thresholds.frequency: has 3 values, want 4"},
		{"threshold order", func(c *Config) { c.Thresholds.Monetary = []float64{10, 5, 20, 30} }, "scoring.thresholds.monetary[1]: 5 is not above 10"},
		{"cap unknown", func(c *Config) { c.Caps = map[string]float64{"bogus": 1} }, `scoring.caps.bogus: unknown numeric variable "bogus"`},
		{"cap value", func(c *Config) { c.Caps = map[string]float64{"clv": -1} }, "scoring.caps.clv: -1 is not a positive number"},
		{"profile name", func(c *Config) { c.Profiles[1].Name = "Up Sell" }, `scoring.profiles[1].name: "Up Sell" is not a name`},
		{"profile duplicate", func(c *Config) { c.Profiles[1].Name = "retention" }, `scoring.profiles[1].name: duplicate profile "retention"`},
		{"profile weight var", func(c *Config) { c.Profiles[0].Weights["recnecy"] = 1 }, `scoring.profiles[0].weights.recnecy: unknown variable "recnecy"`},
		{"profile weight cap", func(c *Config) { c.Profiles[0].Weights["clv"] = 1 }, `scoring.profiles[0].weights.clv: raw variable "clv" needs a cap: set scoring.caps.clv`},
		{"profile no weight", func(c *Config) { c.Profiles[2].Weights = map[string]float64{"r": 0} }, `scoring.profiles[2].weights: profile "winback" needs at least one non-zero weight`},
		{"segmentation name", func(c *Config) { c.Segmentations[2].Name = "churn" }, `scoring.segmentations[2].name: "churn" is reserved`},
		{"segmentation duplicate", func(c *Config) { c.Segmentations[3].Name = "rfm" }, `scoring.segmentations[3].name: duplicate segmentation "rfm"`},
		{"segmentation mode", func(c *Config) { c.Segmentations[0].Mode = "x" }, `scoring.segmentations[0].mode: "x" is not quantile or thresholds`},
		{"no rules", func(c *Config) { c.Segmentations[3].Rules = nil }, `scoring.segmentations[3].rules: segmentation "pareto" has no rules`},
		{"segment name", func(c *Config) { c.Segmentations[2].Rules[1].Segment = "gold tier" }, `scoring.segmentations[2].rules[1].segment: "gold tier" is not a segment name`},
		{"empty rule", func(c *Config) { c.Segmentations[2].Rules[1].When = " " }, "scoring.segmentations[2].rules[1].when: empty expression"},
		{"churn order", func(c *Config) { c.Churn.MediumBelow = 0.1 }, "scoring.churn.medium_below: 0.1 is not above high_below 0.2"},
		{"gap", func(c *Config) { c.Churn.MaxGapDays = 3 }, "scoring.churn.max_gap_days: 3 is not a number >= min_gap_days 7"},
		{"clv value", func(c *Config) { c.CLV.Value = "revenue" }, `scoring.clv.value: "revenue" is not margin or money`},
		{"holdout", func(c *Config) { c.Holdout.Percent = 101 }, "scoring.holdout.percent: 101 is not in 0..100"},
		{"recovery segmentation", func(c *Config) { c.Recovery.ValueSegmentation = "valeu" }, `scoring.recovery.value_segmentation: "valeu" is not a configured segmentation`},
		{"recovery priority", func(c *Config) { c.Recovery.Priority["standard"] = []string{"p1"} }, "scoring.recovery.priority.standard: has 1 values, want 4"},
		{"recovery scale", func(c *Config) { c.Recovery.SeverityScale[3] = 2 }, "scoring.recovery.severity_scale[3]: 2 is not in 0..1"},
		{"max due", func(c *Config) { c.MaxDue = time.Minute }, "scoring.max_due: 1m0s is shorter than 1h"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			require.ErrorContains(t, err, tc.want)
			_, err = NewEngine(c)
			require.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("all problems reported", func(t *testing.T) {
		c := DefaultConfig()
		c.WindowDays, c.Mode = -1, "x"
		err := c.Validate()
		require.ErrorContains(t, err, "scoring.window_days")
		require.ErrorContains(t, err, "scoring.mode")
		require.Equal(t, 2, strings.Count(err.Error(), "\n")+1)
	})
}
