package clv

import "time"

// NOTE: this file fixes the types other packages code against; functions
// operating on them live beside it.

// BGNBD holds the parameters of the BG/NBD model (Fader, Hardie & Lee 2005):
// purchase rates are Gamma(R, Alpha) across customers, dropout probabilities
// Beta(A, B). Time is in Params.TimeUnit.
type BGNBD struct {
	R, Alpha, A, B float64
}

// GammaGamma holds the parameters of the Gamma-Gamma spend model (Fader,
// Hardie & Lee 2005, "RFM and CLV"): spend per transaction is Gamma(P, nu),
// nu is Gamma(Q, Gamma) across customers.
type GammaGamma struct {
	P, Q, Gamma float64
}

// Summary is one customer's purchase history in the model's terms, with time
// in the model's time unit.
type Summary struct {
	X    float64 // repeat purchases: purchase days after the first
	TX   float64 // time from the first to the last purchase
	T    float64 // age: time from the first purchase to the end of observation
	Mean float64 // mean value (spend or margin) per repeat purchase; 0 when X == 0
}

// Params is a fitted model as stored and used for scoring.
type Params struct {
	BGNBD      BGNBD
	GammaGamma GammaGamma
	HasGG      bool          // Gamma-Gamma was fitted (needs enough repeat buyers)
	TimeUnit   time.Duration // the unit X, TX and T were measured in, e.g. 7*24h
	FittedAt   time.Time
	N          int     // customers in the fit
	LogLik     float64 // BG/NBD log-likelihood at the optimum
	GGLogLik   float64 // Gamma-Gamma log-likelihood at the optimum
	Version    string  // stable id of this fit, carried in output events
}
