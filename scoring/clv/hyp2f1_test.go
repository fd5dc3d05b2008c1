package clv

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mathext"
)

func TestHyp2F1ClosedForms(t *testing.T) {
	t.Parallel()
	zs := []float64{0, 1e-8, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999}
	cases := []struct {
		name    string
		a, b, c float64
		want    func(z float64) float64
		zs      []float64
	}{
		{name: "2F1(1,1;2;z) = -ln(1-z)/z", a: 1, b: 1, c: 2, want: func(z float64) float64 {
			if z == 0 {
				return 1
			}
			return -math.Log1p(-z) / z
		}},
		{name: "2F1(a,b;b;z) = (1-z)^-a", a: 0.3, b: 1.7, c: 1.7, want: func(z float64) float64 { return math.Pow(1-z, -0.3) }},
		{name: "2F1(a,b;b;z) = (1-z)^-a, a > c", a: 2.5, b: 0.4, c: 0.4, want: func(z float64) float64 { return math.Pow(1-z, -2.5) }},
		{name: "2F1(1/2,1/2;3/2;z) = asin(sqrt z)/sqrt z", a: 0.5, b: 0.5, c: 1.5, want: func(z float64) float64 {
			if z == 0 {
				return 1
			}
			return math.Atan2(math.Sqrt(z), math.Sqrt(1-z)) / math.Sqrt(z) // asin, well conditioned near 1
		}},
		{name: "2F1(1/2,1;3/2;z) = atanh(sqrt z)/sqrt z", a: 0.5, b: 1, c: 1.5, want: func(z float64) float64 {
			if z == 0 {
				return 1
			}
			return math.Atanh(math.Sqrt(z)) / math.Sqrt(z)
		}},
		{name: "2F1(-3,b;c;z) polynomial", a: -3, b: 2.5, c: 0.7, want: func(z float64) float64 {
			// sum_{n=0..3} (-3)_n (2.5)_n / ((0.7)_n n!) z^n
			sum, term := 1.0, 1.0
			for n := 0; n < 3; n++ {
				fn := float64(n)
				term *= (-3 + fn) * (2.5 + fn) / ((0.7 + fn) * (fn + 1)) * z
				sum += term
			}
			return sum
		}},
		{name: "2F1(1/2,1/2;3/2;z) near 1 (A&S 15.3.6)", a: 0.5, b: 0.5, c: 1.5, zs: []float64{0.9999, 1 - 1e-8, 1 - 1e-14}, want: func(z float64) float64 {
			return math.Atan2(math.Sqrt(z), math.Sqrt(1-z)) / math.Sqrt(z)
		}},
		{name: "2F1(a,b;b;z) near 1", a: 0.3, b: 1.7, c: 1.7, zs: []float64{0.9999, 1 - 1e-10}, want: func(z float64) float64 { return math.Pow(1-z, -0.3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cz := tc.zs
			if cz == nil {
				cz = zs
			}
			for _, z := range cz {
				require.InEpsilon(t, tc.want(z), Hyp2F1(tc.a, tc.b, tc.c, z), 1e-13, "z = %g", z)
			}
		})
	}
}

// TestHyp2F1EulerIntegral compares with Euler's integral representation
//
//	2F1(a,b;c;z) = G(c)/(G(b)G(c-b)) int_0^1 t^(b-1) (1-t)^(c-b-1) (1-zt)^(-a) dt
//
// for c > b > 0, integrated numerically.
func TestHyp2F1EulerIntegral(t *testing.T) {
	t.Parallel()
	for _, p := range [][3]float64{
		// The paper's 2F1(r+x, b+x; a+b+x-1; z) for x = 0, 2, 29, with the
		// (symmetric) upper parameters swapped so that c > b > 0.
		{2.426, 0.243, 2.219},
		{4.426, 2.243, 4.219},
		{31.426, 29.243, 31.219},
		{1.5, 0.5, 3},
		{-0.7, 0.2, 0.9},
		{3, 1, 1.1},
	} {
		a, b, c := p[0], p[1], p[2]
		for _, z := range []float64{0.05, 0.5, 0.9, 0.97} {
			t.Run(fmt.Sprintf("%g,%g;%g;%g", a, b, c, z), func(t *testing.T) {
				lb, _ := math.Lgamma(b)
				lcb, _ := math.Lgamma(c - b)
				lc, _ := math.Lgamma(c)
				integral := tanhSinh01(func(s, q float64) float64 {
					return math.Exp((b-1)*math.Log(s) + (c-b-1)*math.Log(q) - a*math.Log1p(-z*s) + lc - lb - lcb)
				})
				require.InEpsilon(t, integral, Hyp2F1(a, b, c, z), 1e-11)
			})
		}
	}
}

// TestHyp2F1Gonum compares with gonum's mathext.Hypergeo, a port of the
// Cephes library, on a grid that includes every transformation branch.
func TestHyp2F1Gonum(t *testing.T) {
	t.Parallel()
	params := [][3]float64{
		{0.243, 2.426, 2.219}, {2.243, 4.426, 4.219}, {12.243, 14.426, 14.219},
		{0.5, 0.5, 1.5}, {1, 1, 2}, {2.5, 3.5, 1.25}, {0.2, 0.3, 5.7},
		{-2.5, 1.5, 3.2}, {4, -3, 2.5}, {1.7, 2.9, 4.1},
	}
	for _, p := range params {
		for _, z := range []float64{0.01, 0.3, 0.6, 0.85, 0.93, 0.99} {
			want := mathext.Hypergeo(p[0], p[1], p[2], z)
			require.InEpsilon(t, want, Hyp2F1(p[0], p[1], p[2], z), 1e-11, "2F1(%g, %g; %g; %g)", p[0], p[1], p[2], z)
		}
	}
}

func TestHyp2F1Domain(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, p := range [][4]float64{
		{1, 1, 2, -0.1}, {1, 1, 2, 1}, {1, 1, 2, 1.5},
		{1, 1, 0, 0.5}, {1, 1, -2, 0.5},
		{nan, 1, 2, 0.5}, {1, 1, 2, nan}, {math.Inf(1), 1, 2, 0.5},
		// c-a-b an integer and z within 1e-8 of 1: beyond the series cap.
		{1, 1, 2, 1 - 1e-8},
	} {
		require.True(t, math.IsNaN(Hyp2F1(p[0], p[1], p[2], p[3])), "%v", p)
	}
	require.Equal(t, 1.0, Hyp2F1(3, 4, 5, 0))
	require.Equal(t, 1.0, Hyp2F1(0, 4, 5, 0.99))
}
