package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

// fuzzHeaders parses "key=value" lines into headers.
func fuzzHeaders(b []byte) []events.Header {
	var hs []events.Header
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(line, []byte("="))
		hs = append(hs, events.Header{Key: string(k), Value: v})
	}
	return hs
}

// FuzzDecode checks that Decode never panics, that its errors are
// well-formed, that it agrees with encoding/json on JSON syntax and string
// unescaping, and that every accepted event re-encodes canonically and
// decodes back to an equal event.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"e-1","type":"purchase","customer_id":"c-1","time":"2024-05-01T10:00:00Z","order_id":"o-1","amount":"12.34","currency":"EUR"}`),
		[]byte("c-1"), []byte(""))
	f.Add([]byte(`{"order_id":"o-1","amount":12.5,"currency":"USD"}`), []byte(""),
		[]byte("ce_specversion=1.0\nce_id=e\nce_type=x.purchase\nce_source=/s\nce_time=2024-05-01T10:00:00Z\nce_subject=c"))
	d := newDecoder(f)
	reasons := events.Reasons()
	f.Fuzz(func(t *testing.T, value, key, hdrs []byte) {
		headers := fuzzHeaders(hdrs)
		ev, err := d.Decode(key, value, headers)
		if err != nil {
			de, ok := errors.AsType[*events.DecodeError](err)
			if !ok || !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("error %v (%T) is not a *DecodeError matching ErrInvalid", err, err)
			}
			if !slices.Contains(reasons, de.Reason) {
				t.Fatalf("unknown reason %q", de.Reason)
			}
			if len(de.Value) > 64+len("...") {
				t.Fatalf("value not truncated: %d bytes", len(de.Value))
			}
			if de.Reason == events.ReasonInvalidJSON {
				trimmed := bytes.TrimLeft(value, " \t\r\n")
				if json.Valid(value) && len(trimmed) > 0 && trimmed[0] == '{' && !bytes.Contains([]byte(de.Rule), []byte("nested too deeply")) {
					t.Fatalf("rejected valid JSON object: %v", err)
				}
			}
			return
		}

		if !json.Valid(value) {
			t.Fatalf("accepted invalid JSON %q", value)
		}
		if ev.Type == events.TypeUnknown || ev.ID == "" || len(ev.ID) > events.MaxIDBytes || !utf8.ValidString(ev.ID) {
			t.Fatalf("bad type or id: %+v", ev)
		}
		if ev.CustomerID == "" || len(ev.CustomerID) > events.MaxIDBytes || !utf8.ValidString(ev.CustomerID) {
			t.Fatalf("bad customer id %q", ev.CustomerID)
		}
		if len(key) > 0 && string(key) != ev.CustomerID {
			t.Fatalf("customer %q accepted with key %q", ev.CustomerID, key)
		}
		if ev.Time.Location() != time.UTC || ev.Time.Before(time.Unix(0, 0)) || ev.Time.After(testNow.Add(events.DefaultMaxFutureSkew)) {
			t.Fatalf("bad time %v", ev.Time)
		}
		if (ev.Source == "") != (ev.SourceSeq == 0) || len(ev.Source) > events.MaxSourceBytes || ev.SourceSeq < 0 || ev.SourceSeq > events.MaxSourceSeq ||
			strings.Trim(ev.Source, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
			t.Fatalf("bad source %q, seq %d", ev.Source, ev.SourceSeq)
		}
		if ev.Type == events.TypePurchase && (ev.Purchase.Amount <= 0 || ev.Purchase.Items < 0 || ev.Purchase.Currency == "") {
			t.Fatalf("bad purchase %+v", ev.Purchase)
		}

		// Schema v1 without headers: encoding/json must read the same strings.
		if len(headers) == 0 {
			var m map[string]any
			if err := json.Unmarshal(value, &m); err != nil {
				t.Fatalf("encoding/json rejects accepted %q: %v", value, err)
			}
			if _, ce := m["specversion"]; !ce {
				if m["id"] != ev.ID || m["customer_id"] != ev.CustomerID {
					t.Fatalf("id/customer_id %q/%q, encoding/json reads %q/%q", ev.ID, ev.CustomerID, m["id"], m["customer_id"])
				}
				if src, _ := m["source"].(string); m["source_seq"] != nil && src != ev.Source {
					t.Fatalf("source %q, encoding/json reads %q", ev.Source, m["source"])
				}
			}
		}

		// Canonical re-encoding round-trips.
		enc := ev.AppendJSON(nil, d.MinorUnits(), d.BaseCurrency())
		if !json.Valid(enc) {
			t.Fatalf("AppendJSON wrote invalid JSON %q", enc)
		}
		back, err := d.Decode([]byte(ev.CustomerID), enc, nil)
		if err != nil {
			t.Fatalf("re-encoded event %s rejected: %v", enc, err)
		}
		if ev.Type == events.TypePurchase {
			ev.Purchase.Currency = d.BaseCurrency()
		}
		if ev != back {
			t.Fatalf("round trip changed the event:\n%+v\n%+v\n%s", ev, back, enc)
		}
		if enc2 := back.AppendJSON(nil, d.MinorUnits(), d.BaseCurrency()); !bytes.Equal(enc, enc2) {
			t.Fatalf("canonical form is not a fixed point:\n%s\n%s", enc, enc2)
		}
	})
}

// TestFuzzCorpusNames keeps the hand-written seed corpus honest: entries
// named valid-* decode, entries named invalid-* are rejected.
func TestFuzzCorpusNames(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecode", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := filepath.Base(file)
		valid := strings.HasPrefix(name, "valid-")
		if !valid && !strings.HasPrefix(name, "invalid-") {
			continue // found by the fuzzer: only must not crash
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			require.Len(t, lines, 4)
			require.Equal(t, "go test fuzz v1", lines[0])
			var args [3][]byte
			for i, l := range lines[1:] {
				s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "[]byte("), ")"))
				require.NoError(t, err, l)
				args[i] = []byte(s)
			}
			_, err = d.Decode(args[1], args[0], fuzzHeaders(args[2]))
			if valid {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}
