package clv

import (
	"testing"
)

var sink float64

// benchCases are customers scored on the hot path, with the CDNOW
// parameters in weeks (horizon one year = 52 units) and the same model in
// days (alpha*7, horizon 365 units).
var benchCases = []struct {
	name    string
	p       Params
	s       Summary
	horizon int
}{
	{"weeks/new", paperParams, Summary{}, 52},
	{"weeks/one-off", paperParams, Summary{T: 38.86}, 52},
	{"weeks/regular", paperParams, Summary{X: 2, TX: 30.43, T: 38.86, Mean: 22.35}, 52},
	{"weeks/heavy", paperParams, Summary{X: 29, TX: 37.71, T: 38, Mean: 26.26}, 52},
	{"days/new", paperParamsDays, Summary{}, 365},
	{"days/regular", paperParamsDays, Summary{X: 2, TX: 213, T: 272, Mean: 22.35}, 365},
}

var paperParamsDays = Params{
	BGNBD:      BGNBD{R: paperBG.R, Alpha: paperBG.Alpha * 7, A: paperBG.A, B: paperBG.B},
	GammaGamma: paperParams.GammaGamma,
	HasGG:      true,
}

func BenchmarkPAlive(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.p.BGNBD.PAlive(c.s.X, c.s.TX, c.s.T)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "customers/s")
		})
	}
}

func BenchmarkConditionalExpectedPurchases(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.p.BGNBD.ConditionalExpectedPurchases(float64(c.horizon), c.s.X, c.s.TX, c.s.T)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "customers/s")
		})
	}
}

func BenchmarkCLV(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = CLV(c.p, c.s, c.horizon, 0.01/52)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "customers/s")
		})
	}
}

// BenchmarkEvaluate is the whole model evaluation of one customer as the
// scorer does it (P(alive), expected purchases over the horizon, CLV), in
// one pass with Params.Evaluate and as the three separate calls.
func BenchmarkEvaluate(b *testing.B) {
	for _, c := range benchCases {
		h := float64(c.horizon) * 1.0027 // the horizon in days is not a whole number of units
		b.Run("one-pass/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev := c.p.Evaluate(c.s, h, c.horizon, 0.01/52)
				sink = ev.PAlive + ev.ExpectedPurchases + ev.CLV
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/customer")
		})
		b.Run("separate/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.p.BGNBD.PAlive(c.s.X, c.s.TX, c.s.T) +
					c.p.BGNBD.ConditionalExpectedPurchases(h, c.s.X, c.s.TX, c.s.T) +
					CLV(c.p, c.s, c.horizon, 0.01/52)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/customer")
		})
	}
}

func BenchmarkFitCDNOW(b *testing.B) {
	data := Summarize(readCDNOWSample(b), cdnowCalibrationEnd, week)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fit(data, FitOptions{TimeUnit: week}); err != nil {
			b.Fatal(err)
		}
	}
}
