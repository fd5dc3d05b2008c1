package state_test

import (
	"testing"
	"time"

	"github.com/clienting/clienting/state"
)

// BenchmarkApply applies a purchase to a customer with a year of history:
// what a partition worker does per event, without I/O.
func BenchmarkApply(b *testing.B) {
	base, err := typicalState(true, 2)
	if err != nil {
		b.Fatal(err)
	}
	st := base
	ev := sale("bench", "typical", base.LastEvent.Add(time.Hour), 4599)
	in := state.Input{Event: ev, Partition: in3}
	r := rules()
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		// a new offset and id each time, so that every call applies
		off++
		in.Offset = off + 1e9
		ev.ID = "bench"
		if o, _, err := state.Apply(&st, &in, r); err != nil || o == state.Redelivery {
			b.Fatalf("%v %v", o, err)
		}
		st.Recent = st.Recent[:0] // keep the dedupe memory from deciding
	}
}

// BenchmarkValue encodes and decodes the value of a customer with a year
// of history.
func BenchmarkValue(b *testing.B) {
	st, err := typicalState(true, 2)
	if err != nil {
		b.Fatal(err)
	}
	buf, err := state.AppendValue(nil, &st, testNames)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = state.AppendValue(buf[:0], &st, testNames)
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("decode", func(b *testing.B) {
		var out state.State
		b.ReportAllocs()
		for b.Loop() {
			if err := state.DecodeValue("typical", buf, &out, testNames); err != nil {
				b.Fatal(err)
			}
		}
	})
}
