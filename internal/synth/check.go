package synth

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// CheckState compares the store with the independently computed aggregates
// of the stream and returns the final customer states.
func CheckState(t *testing.T, store *state.Store, s *Stream) map[string]scoring.Customer {
	t.Helper()
	ids := make([]string, 0, len(s.Expected))
	for id := range s.Expected {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	loaded, err := store.Load(context.Background(), ids)
	require.NoError(t, err)
	out := map[string]scoring.Customer{}
	for i, id := range ids {
		e := s.Expected[id]
		l := loaded[i]
		require.True(t, l.Found, "customer %q has no state", id)
		c := l.State.Customer
		require.Equal(t, e.Sales, c.Purchases, "sales of %q", id)
		require.Equal(t, e.Money, c.Money, "net money of %q", id)
		require.Equal(t, e.Refunds, c.Refunds, "refunds of %q", id)
		require.Equal(t, e.RefundMoney, c.RefundMoney, "refund money of %q", id)
		require.Equal(t, e.Complaints, c.Complaints, "complaints of %q", id)
		require.Equal(t, e.Contacts, c.Contacts, "contacts of %q", id)
		require.True(t, e.FirstSeen.Equal(c.FirstSeen), "first seen of %q: %s != %s", id, e.FirstSeen, c.FirstSeen)
		require.True(t, e.LastEvent.Equal(c.LastEvent), "last event of %q", id)
		require.True(t, e.LastSale.Equal(c.LastPurchase), "last purchase of %q", id)
		out[id] = c
	}
	return out
}

// Change is a segment-change message as a consumer reads it.
type Change struct {
	ID           string  `json:"id"`
	CustomerID   string  `json:"customer_id"`
	Segmentation string  `json:"segmentation"`
	From         *string `json:"from"`
	To           string  `json:"to"`
	Sequence     int64   `json:"sequence"`
	Cause        struct {
		Kind    string `json:"kind"`
		EventID string `json:"event_id"`
	} `json:"cause"`
}

// CheckTransitions checks the segment-change messages: duplicates (by id)
// are identical; per customer and segmentation the changes form an unbroken
// chain from nothing to the segment the final state evaluates to at now,
// which is also what the store recorded as published. It returns the
// number of (customer, segmentation) chains verified.
func CheckTransitions(t *testing.T, engine *scoring.Engine, now time.Time, msgs []kafka.Message, final map[string]scoring.Customer) int {
	t.Helper()
	seen := map[string]Change{}
	chains := map[[2]string][]Change{}
	for _, m := range msgs {
		var c Change
		require.NoError(t, json.Unmarshal(m.Value, &c), "segment change %s", m.Value)
		require.Equal(t, c.CustomerID, string(m.Key), "key of %s", c.ID)
		if prev, dup := seen[c.ID]; dup {
			require.Equal(t, prev, c, "two different changes share id %s", c.ID)
			continue
		}
		seen[c.ID] = c
		k := [2]string{c.CustomerID, c.Segmentation}
		chains[k] = append(chains[k], c)
	}
	n := 0
	for id, cust := range final {
		res := engine.Evaluate(&cust, scoring.Env{}, now)
		for _, a := range res.Segments {
			chain := chains[[2]string{id, a.Segmentation}]
			require.NotEmpty(t, chain, "no %s change for %q (want %s)", a.Segmentation, id, a.Segment)
			sort.Slice(chain, func(i, j int) bool { return chain[i].Sequence < chain[j].Sequence })
			require.Nil(t, chain[0].From, "first %s change of %q must come from nothing", a.Segmentation, id)
			for i := 1; i < len(chain); i++ {
				require.NotNil(t, chain[i].From, "%s change %d of %q", a.Segmentation, i, id)
				require.Equal(t, chain[i-1].To, *chain[i].From, "broken %s chain of %q at sequence %d", a.Segmentation, id, chain[i].Sequence)
			}
			require.Equal(t, a.Segment, chain[len(chain)-1].To, "last %s change of %q", a.Segmentation, id)
			require.Equal(t, a.Segment, cust.Published[a.Segmentation], "recorded %s of %q", a.Segmentation, id)
			n++
		}
	}
	return n
}

// ScoringConfig is the default scoring configuration made independent of
// the population: fixed thresholds and no Pareto segmentation. Pipeline
// tests use it so that the segment a final state evaluates to does not
// depend on when the processor last read the population histograms.
func ScoringConfig() scoring.Config {
	cfg := scoring.DefaultConfig()
	cfg.Mode = scoring.ModeThresholds
	segs := cfg.Segmentations[:0:0]
	for _, s := range cfg.Segmentations {
		if s.Name != "pareto" {
			segs = append(segs, s)
		}
	}
	cfg.Segmentations = segs
	return cfg
}
