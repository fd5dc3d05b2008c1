package clv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/optimize"
)

var (
	// ErrInsufficientData is matched (errors.Is) by the fitters' errors when
	// there are too few customers to fit a model.
	ErrInsufficientData = errors.New("insufficient data")

	// ErrNotConverged is wrapped by the fitters' errors when the optimiser
	// stopped without reaching a stationary point from any starting point.
	ErrNotConverged = errors.New("optimiser did not converge")

	// ErrInvalidSummary is wrapped by the fitters' errors for a summary no
	// purchase history can have (negative or non-finite values, TX > T,
	// 0 < X < 1).
	ErrInvalidSummary = errors.New("invalid summary")

	// ErrInvalidOptions is wrapped by FitOptions.Validate's errors.
	ErrInvalidOptions = errors.New("invalid fit options")
)

// insufficientDataError says how many customers a fit needed and had.
type insufficientDataError struct {
	model      string
	what       string
	need, have int
}

func (e *insufficientDataError) Error() string {
	return fmt.Sprintf("clv: fit %s: need at least %d %s, have %d", e.model, e.need, e.what, e.have)
}

func (e *insufficientDataError) Is(target error) bool { return target == ErrInsufficientData }

// FitOptions configures the maximum-likelihood fits.
type FitOptions struct {
	// Penalizer is the coefficient of an L2 penalty added to the mean
	// negative log-likelihood, as lifetimes' penalizer_coef: it is applied
	// to (r, alpha*10/max(T), a, b) for BG/NBD (lifetimes rescales time so
	// that the oldest customer has age 10 before fitting) and to
	// (p, q, gamma) for Gamma-Gamma. Small values such as 0.001-0.1 keep
	// the estimates finite on data that barely identifies them.
	// Default: 0.
	Penalizer float64

	// MinCustomers is the fewest customers FitBGNBD and Fit accept.
	// Default: 100.
	MinCustomers int

	// MinRepeatBuyers is the fewest customers with X >= 1 and Mean > 0
	// FitGammaGamma accepts; with fewer, Fit leaves HasGG false.
	// Default: 50.
	MinRepeatBuyers int

	// MaxIterations bounds the major iterations of each optimiser run.
	// Default: 1000.
	MaxIterations int

	// TimeUnit is the unit the summaries' X, TX and T are measured in,
	// recorded in Params.TimeUnit. Default: 24h.
	TimeUnit time.Duration

	// Now is recorded as Params.FittedAt and enters Params.Version. The
	// package reads no clock. Default: the zero time.
	Now time.Time
}

func (o *FitOptions) setDefaults() {
	if o.MinCustomers == 0 {
		o.MinCustomers = 100
	}
	if o.MinRepeatBuyers == 0 {
		o.MinRepeatBuyers = 50
	}
	if o.MaxIterations == 0 {
		o.MaxIterations = 1000
	}
	if o.TimeUnit == 0 {
		o.TimeUnit = 24 * time.Hour
	}
}

// Validate reports the first invalid option, after defaults are applied
// to zero values.
func (o FitOptions) Validate() error {
	o.setDefaults()
	switch {
	case !(o.Penalizer >= 0) || math.IsInf(o.Penalizer, 1):
		return fmt.Errorf("clv: Penalizer = %g: must be finite and >= 0: %w", o.Penalizer, ErrInvalidOptions)
	case o.MinCustomers < 1:
		return fmt.Errorf("clv: MinCustomers = %d: must be >= 1: %w", o.MinCustomers, ErrInvalidOptions)
	case o.MinRepeatBuyers < 1:
		return fmt.Errorf("clv: MinRepeatBuyers = %d: must be >= 1: %w", o.MinRepeatBuyers, ErrInvalidOptions)
	case o.MaxIterations < 1:
		return fmt.Errorf("clv: MaxIterations = %d: must be >= 1: %w", o.MaxIterations, ErrInvalidOptions)
	case o.TimeUnit < 0:
		return fmt.Errorf("clv: TimeUnit = %v: must be > 0: %w", o.TimeUnit, ErrInvalidOptions)
	}
	return nil
}

// Fit fits BG/NBD to all of data and Gamma-Gamma to its repeat buyers
// (X >= 1, Mean > 0), and fills N, LogLik, TimeUnit, FittedAt and Version.
// HasGG is set only when Gamma-Gamma was fitted with q > 1 (for q <= 1 the
// model's mean spend is infinite; GammaGamma and GGLogLik are filled
// anyway). Too few repeat buyers leave HasGG false without an error; any
// other failure is returned.
func Fit(data []Summary, opt FitOptions) (Params, error) {
	opt.setDefaults()
	if err := opt.Validate(); err != nil {
		return Params{}, err
	}
	bg, ll, err := FitBGNBD(data, opt)
	if err != nil {
		return Params{}, err
	}
	p := Params{
		BGNBD:    bg,
		TimeUnit: opt.TimeUnit,
		FittedAt: opt.Now,
		N:        len(data),
		LogLik:   ll,
	}
	gg, gll, err := FitGammaGamma(data, opt)
	switch {
	case errors.Is(err, ErrInsufficientData):
	case err != nil:
		return Params{}, err
	default:
		p.GammaGamma, p.GGLogLik, p.HasGG = gg, gll, gg.Q > 1
	}
	p.Version = version(p)
	return p, nil
}

// version returns 12 hex digits of a SHA-256 of the fitted parameters,
// the time unit and the fit time.
func version(p Params) string {
	h := sha256.New()
	var buf [8]byte
	for _, v := range []float64{
		p.BGNBD.R, p.BGNBD.Alpha, p.BGNBD.A, p.BGNBD.B,
		p.GammaGamma.P, p.GammaGamma.Q, p.GammaGamma.Gamma,
	} {
		binary.BigEndian.PutUint64(buf[:], math.Float64bits(v))
		h.Write(buf[:])
	}
	hasGG := uint64(0)
	if p.HasGG {
		hasGG = 1
	}
	for _, v := range []uint64{hasGG, uint64(p.TimeUnit), uint64(p.FittedAt.UnixNano())} {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// FitBGNBD returns the maximum-likelihood BG/NBD parameters for data (each
// summary one customer) and the log-likelihood at the optimum (without the
// penalty). See the package documentation, "Fitting".
func FitBGNBD(data []Summary, opt FitOptions) (BGNBD, float64, error) {
	opt.setDefaults()
	if err := opt.Validate(); err != nil {
		return BGNBD{}, 0, err
	}
	if len(data) < opt.MinCustomers {
		return BGNBD{}, 0, &insufficientDataError{model: "BG/NBD", what: "customers", need: opt.MinCustomers, have: len(data)}
	}
	d, err := newBGData(data)
	if err != nil {
		return BGNBD{}, 0, fmt.Errorf("clv: fit BG/NBD: %w", err)
	}
	scale := 1.0
	if d.maxT > 0 {
		scale = 10 / d.maxT
	}
	meanT := 0.0
	for _, s := range data {
		meanT += s.T
	}
	meanT /= float64(len(data))
	if !(meanT > 0) {
		meanT = 1
	}
	toModel := func(x []float64) BGNBD {
		return BGNBD{R: math.Exp(x[0]), Alpha: math.Exp(x[1]), A: math.Exp(x[2]), B: math.Exp(x[3])}
	}
	obj := &objective{
		dim: 4,
		eval: func(x, grad []float64) float64 {
			m := toModel(x)
			ll := d.logLik(m, grad)
			pen := [4]float64{m.R, m.Alpha * scale, m.A, m.B}
			f := -ll / d.w
			for i, v := range pen {
				f += opt.Penalizer * v * v
				if grad != nil {
					grad[i] = -grad[i]/d.w + 2*opt.Penalizer*v*v
				}
			}
			return f
		},
	}
	starts := [][]float64{
		{0, math.Log(meanT), 0, 0}, // r = 1, alpha = mean T, a = b = 1
		{0, 0, 0, 0},               // lifetimes' start
		{math.Log(0.5), math.Log(meanT / 4), math.Log(0.5), math.Log(2)},
	}
	x, err := obj.minimize(starts, opt.MaxIterations)
	if err != nil {
		return BGNBD{}, 0, fmt.Errorf("clv: fit BG/NBD: %w", err)
	}
	m := toModel(x)
	return m, d.logLik(m, nil), nil
}

// FitGammaGamma returns the maximum-likelihood Gamma-Gamma parameters for
// the customers in data with X >= 1 and Mean > 0, and the log-likelihood at
// the optimum (without the penalty).
func FitGammaGamma(data []Summary, opt FitOptions) (GammaGamma, float64, error) {
	opt.setDefaults()
	if err := opt.Validate(); err != nil {
		return GammaGamma{}, 0, err
	}
	d := newGGData(data)
	if int(d.w) < opt.MinRepeatBuyers {
		return GammaGamma{}, 0, &insufficientDataError{model: "Gamma-Gamma", what: "customers with repeat purchases", need: opt.MinRepeatBuyers, have: int(d.w)}
	}
	var meanSpend float64
	for _, g := range d.groups {
		for _, it := range g.items {
			meanSpend += it.w * it.m
		}
	}
	meanSpend /= d.w
	toModel := func(x []float64) GammaGamma {
		return GammaGamma{P: math.Exp(x[0]), Q: math.Exp(x[1]), Gamma: math.Exp(x[2])}
	}
	obj := &objective{
		dim: 3,
		eval: func(x, grad []float64) float64 {
			g := toModel(x)
			ll := d.logLik(g, grad)
			f := -ll / d.w
			for i, v := range [3]float64{g.P, g.Q, g.Gamma} {
				f += opt.Penalizer * v * v
				if grad != nil {
					grad[i] = -grad[i]/d.w + 2*opt.Penalizer*v*v
				}
			}
			return f
		},
	}
	starts := [][]float64{
		{0, math.Log(2), math.Log(meanSpend)}, // p = 1, q = 2: population mean = mean spend
		{0, 0, 0},                             // lifetimes' start
	}
	x, err := obj.minimize(starts, opt.MaxIterations)
	if err != nil {
		return GammaGamma{}, 0, fmt.Errorf("clv: fit Gamma-Gamma: %w", err)
	}
	g := toModel(x)
	return g, d.logLik(g, nil), nil
}

// objective is a smooth function of log-parameters with its analytic
// gradient. eval returns the value and, when grad is not nil, stores the
// gradient in it. The last evaluation is cached because the optimiser asks
// for the value and the gradient at the same point separately.
type objective struct {
	dim  int
	eval func(x, grad []float64) float64

	lastX, lastGrad []float64
	lastF           float64
}

// Tolerances of the optimisation, on the mean negative log-likelihood per
// customer as a function of the log-parameters.
const (
	// gradTol is the largest gradient (infinity norm) accepted as a
	// stationary point. The mean log-likelihood has curvature of order
	// 0.01-1 in the log-parameters, so this pins them to about 1e-5
	// relative.
	gradTol = 1e-7
	// maxLogParam bounds |ln(parameter)|: beyond it the objective is +Inf,
	// which keeps the line searches away from overflow.
	maxLogParam = 40
)

func (o *objective) at(x []float64) {
	if o.lastX != nil && equal(o.lastX, x) {
		return
	}
	if o.lastX == nil {
		o.lastX, o.lastGrad = make([]float64, o.dim), make([]float64, o.dim)
	}
	copy(o.lastX, x)
	for _, v := range x {
		if !(math.Abs(v) <= maxLogParam) {
			o.lastF = math.Inf(1)
			for i := range o.lastGrad {
				o.lastGrad[i] = math.NaN()
			}
			return
		}
	}
	o.lastF = o.eval(x, o.lastGrad)
	if math.IsNaN(o.lastF) {
		o.lastF = math.Inf(1)
	}
}

func (o *objective) problem() optimize.Problem {
	return optimize.Problem{
		Func: func(x []float64) float64 {
			o.at(x)
			return o.lastF
		},
		Grad: func(grad, x []float64) {
			o.at(x)
			copy(grad, o.lastGrad)
		},
	}
}

// gradNorm returns the infinity norm of the gradient at x.
func (o *objective) gradNorm(x []float64) float64 {
	o.at(x)
	n := 0.0
	for _, g := range o.lastGrad {
		if math.IsNaN(g) {
			return math.Inf(1)
		}
		n = max(n, math.Abs(g))
	}
	return n
}

// minimize runs BFGS from each start in turn and, when BFGS stops short of
// a stationary point, Nelder-Mead from the same start followed by BFGS from
// where Nelder-Mead ended. It returns the first point whose gradient is
// below gradTol.
func (o *objective) minimize(starts [][]float64, maxIter int) ([]float64, error) {
	prob := o.problem()
	settings := func() *optimize.Settings {
		return &optimize.Settings{
			MajorIterations: maxIter,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-13, Relative: 1e-13, Iterations: 20},
		}
	}
	var (
		lastStatus optimize.Status
		lastErr    error
		lastGrad   float64
		iters      int
	)
	try := func(x0 []float64, m optimize.Method) []float64 {
		res, err := optimize.Minimize(prob, x0, settings(), m)
		if res == nil {
			lastErr = err
			return nil
		}
		lastStatus, lastErr, iters = res.Status, err, res.MajorIterations
		lastGrad = o.gradNorm(res.X)
		return res.X
	}
	for _, x0 := range starts {
		if x := try(x0, &optimize.BFGS{GradStopThreshold: gradTol / 10}); x != nil && lastGrad < gradTol {
			return x, nil
		}
		if x := try(x0, &optimize.NelderMead{}); x != nil {
			if x := try(x, &optimize.BFGS{GradStopThreshold: gradTol / 10}); x != nil && lastGrad < gradTol {
				return x, nil
			}
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w from %d starting points: last status %v after %d iterations, gradient %.3g: %w",
			ErrNotConverged, len(starts), lastStatus, iters, lastGrad, lastErr)
	}
	return nil, fmt.Errorf("%w from %d starting points: last status %v after %d iterations, gradient %.3g",
		ErrNotConverged, len(starts), lastStatus, iters, lastGrad)
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
