package state_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// dict is a fixed name dictionary: names get the numbers 1, 2, ... in the
// order given.
type dict struct {
	ids   map[string]uint64
	names map[uint64]string
}

func newDict(names ...string) *dict {
	d := &dict{ids: map[string]uint64{}, names: map[uint64]string{}}
	for i, n := range names {
		d.ids[n], d.names[uint64(i+1)] = uint64(i+1), n
	}
	return d
}

func (d *dict) ID(name string) (uint64, bool) { id, ok := d.ids[name]; return id, ok }
func (d *dict) Name(id uint64) (string, bool) { n, ok := d.names[id]; return n, ok }

// testNames knows every name the codec tests use.
var testNames = newDict("rfm", "champion", "lifecycle", "active", scoring.ChurnKey, "low", "value",
	"gold", "engagement", "engaged", "channel", "email", "history", "crm", "medium", "high")

func encode(t testing.TB, s *state.State) []byte {
	t.Helper()
	b, err := state.AppendValue(nil, s, testNames)
	require.NoError(t, err)
	return b
}

func decode(t testing.TB, id string, b []byte) state.State {
	t.Helper()
	var s state.State
	require.NoError(t, state.DecodeValue(id, b, &s, testNames))
	return s
}

// fullState sets every field of a state.
func fullState() state.State {
	first := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	last := first.Add(400 * 24 * time.Hour)
	return state.State{
		Customer: scoring.Customer{
			ID:        "full {1}",
			FirstSeen: first, LastEvent: last,
			FirstPurchase: first.Add(time.Hour), LastPurchase: last.Add(-time.Hour),
			Purchases: 12, PurchaseDays: 11, Money: -123456789012, Margin: -42, Refunds: 3, RefundMoney: 1 << 60,
			Window: []scoring.Bucket{
				{Day: 19800, Count: 2, Money: -500, Margin: 7},
				{Day: 19807, Count: 0, Money: math.MinInt64, Margin: math.MaxInt64},
				{Day: 20100, Count: 1 << 40, Money: 1, Margin: -1},
			},
			Complaints: 9, OpenBySeverity: [5]int64{0, 1, 2, 3, 300}, LastComplaint: last.Add(-48 * time.Hour),
			Contacts: 70, ContactsSinceLastPurchase: 5, Responses: 6, LastContact: last,
			Published: map[string]string{"rfm": "champion", "lifecycle": "active", scoring.ChurnKey: "low"},
			Scores:    [4]int8{5, 1, 4, 15},
			Contrib:   scoring.Contrib{Active: true, Recency: 20100, Frequency: -3, Monetary: math.MaxInt32, Tenure: math.MinInt32},
			Seq:       77,
		},
		Watermarks: []state.Watermark{
			{Partition: state.PartitionOf("in", 3), Offset: 1 << 50},
			{Partition: state.PartitionOf("in", 0), Offset: 0},
			{Partition: state.PartitionOf("other topic", 1<<31-1), Offset: math.MaxInt64},
		},
		Recent:  []state.RecentID{{Hash: math.MaxUint64, Time: last.Unix()}, {Hash: 0, Time: last.Unix() - 6*86400}},
		Sources: []state.SourceSeq{{Source: "history", Seq: events.MaxSourceSeq}, {Source: "crm", Seq: 1}},
		Due:     last.Add(90*24*time.Hour + 123*time.Millisecond),
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    state.State
	}{
		{"every field", fullState()},
		{"zero", state.State{Customer: scoring.Customer{ID: "nobody"}}},
		{"before 1970", state.State{Customer: scoring.Customer{ID: "old",
			FirstSeen: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), LastEvent: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			Window: []scoring.Bucket{{Day: -10, Count: 1}}}, Due: time.Date(1965, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"times before FirstSeen", state.State{Customer: scoring.Customer{ID: "odd",
			FirstSeen: day0, LastEvent: day0.Add(-time.Hour), LastContact: day0.Add(-48 * time.Hour)}, Due: day0.Add(-time.Minute)}},
		{"only watermarks", state.State{Customer: scoring.Customer{ID: "w"}, Watermarks: []state.Watermark{{Partition: 1, Offset: 2}}}},
		{"buckets out of order", state.State{Customer: scoring.Customer{ID: "b", Window: []scoring.Bucket{{Day: 70}, {Day: 7, Money: 1}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encode(t, &tc.s)
			require.Equal(t, byte(state.Version), b[0])
			require.Equal(t, tc.s, decode(t, tc.s.ID, b))
			t.Logf("%d bytes", len(b))
		})
	}
}

// TestValueOneEncoding: a state has one encoding, whatever the order in
// which its published map is walked.
func TestValueOneEncoding(t *testing.T) {
	s := fullState()
	for _, k := range []string{"value", "engagement", "channel"} {
		s.Published[k] = "gold"
	}
	first := encode(t, &s)
	for range 50 {
		require.Equal(t, first, encode(t, &s))
	}
}

func TestValueDecodeReusesState(t *testing.T) {
	full := fullState()
	s := decode(t, full.ID, encode(t, &full))
	zero := state.State{Customer: scoring.Customer{ID: "z"}}
	require.NoError(t, state.DecodeValue("z", encode(t, &zero), &s, testNames))
	require.Equal(t, "z", s.ID)
	require.Empty(t, s.Window)
	require.Empty(t, s.Published)
	require.Empty(t, s.Watermarks)
	require.Empty(t, s.Recent)
	require.Empty(t, s.Sources)
	require.Zero(t, s.Money)
	require.True(t, s.Due.IsZero())
}

func TestValueVersion(t *testing.T) {
	good := encode(t, &state.State{Customer: scoring.Customer{ID: "v"}})
	for _, v := range []byte{0, state.VersionPrevious, state.Version + 1, 255} {
		b := bytes.Clone(good)
		b[0] = v
		var s state.State
		err := state.DecodeValue("v", b, &s, testNames)
		require.ErrorContains(t, err, fmt.Sprintf("version %d", v))
		require.ErrorContains(t, err, `"v"`, "names the customer")
	}
}

func TestValueCorrupt(t *testing.T) {
	full := fullState()
	good := encode(t, &full)
	var s state.State
	for n := range len(good) {
		require.Error(t, state.DecodeValue("c", good[:n], &s, testNames), "truncated to %d of %d bytes", n, len(good))
	}
	require.ErrorContains(t, state.DecodeValue("c", append(bytes.Clone(good), 0), &s, testNames), "trailing")
	require.ErrorContains(t, state.DecodeValue("c", nil, &s, testNames), "empty")

	// a count larger than the value is refused before anything is
	// allocated for it
	huge := []byte{state.Version, 0, 0}
	huge = appendUvarint(huge, 1<<20) // presence: window
	huge = appendUvarint(huge, math.MaxUint64>>1)
	require.ErrorContains(t, state.DecodeValue("c", huge, &s, testNames), "count")

	// watermarks announced but missing
	require.ErrorContains(t, state.DecodeValue("c", []byte{state.Version, 3, 1, 2, 3}, &s, testNames), "watermarks")

	// a name id nobody gave
	unknown := []byte{state.Version, 0, 0}
	unknown = appendUvarint(unknown, 1<<23) // presence: published
	unknown = append(unknown, 1, 1, 100)
	require.ErrorContains(t, state.DecodeValue("c", unknown, &s, testNames), "unknown name id 100")
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestValueNamesMustBeKnown(t *testing.T) {
	s := state.State{Customer: scoring.Customer{ID: "n", Published: map[string]string{"rfm": "brand new"}}}
	_, err := state.AppendValue(nil, &s, testNames)
	require.ErrorContains(t, err, "brand new")
	s = state.State{Customer: scoring.Customer{ID: "n"}, Sources: []state.SourceSeq{{Source: "new source", Seq: 1}}}
	_, err = state.AppendValue(nil, &s, testNames)
	require.ErrorContains(t, err, "new source")
	s = state.State{Customer: scoring.Customer{ID: "n"}, Watermarks: make([]state.Watermark, 256)}
	_, err = state.AppendValue(nil, &s, testNames)
	require.ErrorContains(t, err, "watermarks")
}

// typicalState is a customer after 8 purchases over a year, with 5
// published segments and one watermark; with margins or not, with 2
// recent ids or 1.
func typicalState(margins bool, recent int) (state.State, error) {
	var s state.State
	r := rules()
	start := time.Date(2025, 5, 3, 14, 27, 13, 0, time.UTC)
	days := []int{0, 41, 95, 150, 201, 270, 330, 334}
	if recent == 1 {
		days[7] = 345
	}
	amounts := []int64{4599, 12999, 2350, 8990, 4599, 19900, 3100, 7450}
	for i, d := range days {
		e := sale(fmt.Sprint("0f3c9a7e-5b1d-4c2e-9a8b-", 100000000000+i), "cust-000123456", start.Add(time.Duration(d)*24*time.Hour), amounts[i])
		if margins {
			withMargin(e, amounts[i]/4)
		}
		in := &state.Input{Event: e, Partition: in3, Offset: int64(1000000 + i*977)}
		if out, _, err := state.Apply(&s, in, r); out != state.Applied || err != nil {
			return s, fmt.Errorf("event %d: %s: %w", i, out, err)
		}
	}
	s.Published = map[string]string{"rfm": "champion", "lifecycle": "active", scoring.ChurnKey: "low", "value": "gold", "engagement": "engaged"}
	s.Scores = [4]int8{5, 4, 4, 3}
	s.Contrib = scoring.Contrib{Active: true, Recency: 20475, Frequency: 7, Monetary: 1203, Tenure: 20141}
	s.Seq = 14
	s.Due = s.LastEvent.Add(30 * 24 * time.Hour)
	return s, nil
}

// TestValueSize: a typical customer takes under 150 bytes.
func TestValueSize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		margins bool
		recent  int
	}{{"margins, 2 recent ids", true, 2}, {"no margins, 1 recent id", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := typicalState(tc.margins, tc.recent)
			require.NoError(t, err)
			require.Len(t, s.Watermarks, 1)
			require.Len(t, s.Recent, tc.recent)
			require.Len(t, s.Window, 8)
			require.Len(t, s.Published, 5)
			b := encode(t, &s)
			t.Logf("a typical customer (8 purchases over a year, 5 published segments, 1 watermark, %s): %d bytes", tc.name, len(b))
			require.Less(t, len(b), 150)
			require.Equal(t, s, decode(t, s.ID, b))
		})
	}
}

// FuzzDecodeValue: any bytes decode to a state or an error, never a panic,
// and a decoded state encodes again.
func FuzzDecodeValue(f *testing.F) {
	full := fullState()
	typical, err := typicalState(true, 2)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []*state.State{&full, &typical, {Customer: scoring.Customer{ID: "z"}}} {
		b, err := state.AppendValue(nil, s, testNames)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s state.State
		if err := state.DecodeValue("f", b, &s, testNames); err != nil {
			return
		}
		again, err := state.AppendValue(nil, &s, testNames)
		require.NoError(t, err)
		var s2 state.State
		require.NoError(t, state.DecodeValue("f", again, &s2, testNames))
		third, err := state.AppendValue(nil, &s2, testNames)
		require.NoError(t, err)
		require.Equal(t, again, third, "a decoded value encodes to a fixed point")
	})
}

// A state read back from Redis equals the state Apply left in the cache:
// event times keep whole seconds, and a complaint of an unknown severity
// counts only in the total.
func TestAppliedStateRoundTrips(t *testing.T) {
	var s state.State
	require.NoError(t, run(t, &s, rules(),
		at(sale("a", "c", day0.Add(500*time.Millisecond), 1), 1),
		at(sale("b", "c", day0.Add(700*time.Millisecond), 2), 2),
		at(complaint("k", "c", day0.Add(time.Second+time.Millisecond), events.SeverityUnknown, false), 3),
	))
	require.Equal(t, s, decode(t, "", encode(t, &s)))
	require.Equal(t, int64(1), s.Complaints)
	require.Equal(t, [5]int64{}, s.OpenBySeverity)
	require.Equal(t, int64(1), s.PurchaseDays)

	_, err := decodeErr([]byte{state.Version})
	require.ErrorContains(t, err, "truncated")
}

func decodeErr(b []byte) (state.State, error) {
	var s state.State
	err := state.DecodeValue("x", b, &s, testNames)
	return s, err
}
