package events_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
)

// TestDecodeFieldMatrix takes valid messages of every type and mode and, for
// every field, removes it, duplicates it and replaces it with a value of
// every JSON type. Decode must never panic, and every rejection must be a
// well-formed *DecodeError naming a field.
func TestDecodeFieldMatrix(t *testing.T) {
	t.Parallel()
	d := newDecoder(t)
	payloads := map[string]map[string]any{
		"purchase":  {"order_id": "o", "amount": "12.34", "currency": "EUR", "kind": "refund", "margin": "-1", "items": 2, "channel": "web"},
		"complaint": {"complaint_id": "k", "severity": "high", "status": "resolved", "category": "x", "channel": "phone", "source": "crm", "source_seq": 7},
		"contact":   {"contact_id": "t", "channel": "sms", "direction": "inbound", "campaign_id": "c", "outcome": "o", "source": "crm", "source_seq": "8"},
	}
	replacements := []string{`null`, `0`, `-1.5e3`, `""`, `"x"`, `{}`, `{"a":[1]}`, `[]`, `true`, `false`, `"\ud800"`, `"2024-05-01T10:00:00Z"`, `"1.0"`}

	// object encodes m with the keys in a fixed order, then extra raw members.
	object := func(m map[string]any, extra ...string) string {
		s := "{"
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v, err := json.Marshal(m[k])
			require.NoError(t, err)
			if len(s) > 1 {
				s += ","
			}
			s += `"` + k + `":` + string(v)
		}
		for _, e := range extra {
			if len(s) > 1 {
				s += ","
			}
			s += e
		}
		return s + "}"
	}
	// variants calls f with every variation of the object m.
	variants := func(m map[string]any, f func(name, value string)) {
		f("valid", object(m))
		for k := range m {
			rest := maps.Clone(m)
			delete(rest, k)
			f("without "+k, object(rest))
			v, _ := json.Marshal(m[k])
			f("duplicate "+k, object(m, `"`+k+`":`+string(v)))
			for _, r := range replacements {
				f(k+"="+r, object(rest, `"`+k+`":`+r))
			}
		}
	}
	check := func(t *testing.T, name string, key, value []byte, headers []events.Header) {
		var ev events.Event
		var err error
		require.NotPanics(t, func() { ev, err = d.Decode(key, value, headers) }, "%s: %s", name, value)
		if err != nil {
			de, ok := errors.AsType[*events.DecodeError](err)
			require.True(t, ok, "%s: %v", name, err)
			require.ErrorIs(t, err, events.ErrInvalid)
			require.NotEmpty(t, de.Field, "%s: %v", name, err)
			require.NotEmpty(t, de.Rule)
			return
		}
		require.NotEqual(t, events.TypeUnknown, ev.Type)
	}

	for typ, payload := range payloads {
		t.Run("v1 "+typ, func(t *testing.T) {
			t.Parallel()
			m := maps.Clone(payload)
			m["id"], m["type"], m["customer_id"], m["time"], m["schema"] = "e", typ, "c", "2024-05-01T10:00:00Z", 1
			variants(m, func(name, value string) { check(t, name, []byte("c"), []byte(value), nil) })
		})
		t.Run("structured "+typ, func(t *testing.T) {
			t.Parallel()
			env := map[string]any{"specversion": "1.0", "id": "e", "type": "com.x." + typ, "source": "/s",
				"time": "2024-05-01T10:00:00Z", "subject": "c", "datacontenttype": "application/json", "data": payload}
			variants(env, func(name, value string) { check(t, "envelope "+name, []byte("c"), []byte(value), nil) })
			data := maps.Clone(payload)
			data["customer_id"], data["schema"] = "c", 1
			variants(data, func(name, value string) {
				delete(env, "data")
				check(t, "data "+name, nil, []byte(object(env, `"data":`+value)), nil)
			})
		})
		t.Run("binary "+typ, func(t *testing.T) {
			t.Parallel()
			attrs := [][2]string{{"ce_specversion", "1.0"}, {"ce_id", "e"}, {"ce_type", typ}, {"ce_source", "/s"},
				{"ce_time", "2024-05-01T10:00:00Z"}, {"ce_subject", "c"}, {"content-type", "application/json"}}
			value := []byte(object(payload))
			for i := range attrs {
				var without, dup, bad []events.Header
				for j, a := range attrs {
					h := events.Header{Key: a[0], Value: []byte(a[1])}
					dup = append(dup, h)
					if j == i {
						dup = append(dup, h)
						bad = append(bad, events.Header{Key: a[0], Value: []byte("\xff{")})
						continue
					}
					without = append(without, h)
					bad = append(bad, h)
				}
				check(t, "without "+attrs[i][0], nil, value, without)
				check(t, "duplicate "+attrs[i][0], nil, value, dup)
				check(t, "bad "+attrs[i][0], nil, value, bad)
			}
			variants(payload, func(name, v string) {
				var hs []events.Header
				for _, a := range attrs {
					hs = append(hs, events.Header{Key: a[0], Value: []byte(a[1])})
				}
				check(t, name, []byte("c"), []byte(v), hs)
			})
		})
	}
}
