package state

import (
	"fmt"

	"github.com/clienting/clienting/scoring"
)

// Fields the processor records besides the event aggregates.
const (
	fieldScores  = "sc" // previous R, F, M, T scores, 4 bytes
	fieldContrib = "cb" // population contribution, scoring.Contrib.String()
)

// decodeExtra decodes fields the processor records besides the event
// aggregates (previous scores, population contribution).
func decodeExtra(c *scoring.Customer, f, v string) error {
	switch f {
	case fieldScores:
		if len(v) != 4 {
			return fmt.Errorf("scores %q: want 4 bytes", v)
		}
		for i := range 4 {
			c.Scores[i] = int8(v[i] - '0')
		}
	case fieldContrib:
		cb, err := scoring.ParseContrib(v)
		if err != nil {
			return err
		}
		c.Contrib = cb
	}
	return nil
}
