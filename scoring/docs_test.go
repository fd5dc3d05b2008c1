package scoring

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestReadmeHasFragment: docs/scoring.md (the Scoring section moved there
// from README.md) carries README.fragment.md verbatim between its scoring
// markers. The fragment's relative links are written from the repository
// root; in docs/ they take a "../" in front.
func TestReadmeHasFragment(t *testing.T) {
	frag, err := os.ReadFile("README.fragment.md")
	require.NoError(t, err)
	scoringDoc, err := os.ReadFile("../docs/scoring.md")
	require.NoError(t, err)
	doc := string(scoringDoc)
	begin, end := strings.Index(doc, "<!-- scoring:begin -->\n"), strings.Index(doc, "<!-- scoring:end -->")
	require.True(t, begin >= 0 && end > begin, "docs/scoring.md lacks the scoring markers")
	want := regexp.MustCompile(`\]\(([^)#:]+)\)`).ReplaceAllString(string(frag), "](../$1)")
	require.Equal(t, strings.TrimSpace(want), strings.TrimSpace(doc[begin+len("<!-- scoring:begin -->\n"):end]),
		"docs/scoring.md's Scoring section differs from scoring/README.fragment.md: copy the fragment in (relative links with ../)")
}

// TestReadmeFragment keeps README.fragment.md in step with the code: every
// variable is documented, the default configuration is shown verbatim and
// the example segmentation compiles.
func TestReadmeFragment(t *testing.T) {
	b, err := os.ReadFile("README.fragment.md")
	require.NoError(t, err)
	doc := string(b)
	for _, v := range variables {
		require.Contains(t, doc, "| `"+v.name+"` | "+v.kind.String()+" |", "variable %s", v.name)
	}
	require.Contains(t, doc, string(DefaultYAML()))
	for _, s := range DefaultConfig().Segmentations {
		for _, r := range s.Rules {
			require.Contains(t, doc, strings.ReplaceAll(r.When, "|", `\|`), "rule %s/%s", s.Name, r.Segment)
		}
	}

	start := strings.Index(doc, "### Writing a segmentation")
	require.Positive(t, start)
	block := doc[start:]
	block = block[strings.Index(block, "```yaml\n")+8:]
	block = block[:strings.Index(block, "```")]
	block = strings.Replace(block, "rules: [...]", `rules: [{segment: any, when: "true"}]`, 1)
	cfg := DefaultConfig()
	require.NoError(t, yaml.Unmarshal([]byte(block), &struct {
		Scoring *Config `yaml:"scoring"`
	}{&cfg}))
	e, err := NewEngine(cfg)
	require.NoError(t, err)
	c := customerWith("x", 200, 800, 9, 2000)
	c.Contacts, c.Responses = 10, 5
	r := e.Evaluate(c, Env{}, t0)
	require.NoError(t, r.Err)
	require.Equal(t, []Assignment{{"rfm", "any"}, {"winback", "email"}}, r.Segments)
}
