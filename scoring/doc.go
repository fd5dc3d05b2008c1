// Package scoring turns a customer's state, the population and the time
// into metrics, R/F/M/T scores, weighted profile scores, segments, churn
// risk, customer lifetime value and the next time any of them could change.
// It is pure Go: no I/O, no Kafka, no Redis, no clock (the caller passes
// now).
//
// The processor builds one Engine from the validated Config at start-up
// (bad rules fail there) and calls Engine.Evaluate from its partition
// workers; an Engine is safe for concurrent use. Evaluate reads a Customer
// (the store's state), an Env (the population histograms and the fitted
// model, both optional) and now, and returns a Result. The processor
// publishes what changed against Customer.Published, stores
// Result.Scores.Packed() in Customer.Scores (the hysteresis memory), moves
// the customer between population bins when Result.Contrib changed, and
// puts the customer on its due index at Result.NextDue.
//
// # Time
//
// Day counts are whole elapsed days: recency_days = floor((now -
// LastPurchase) / 24h), likewise tenure_days and days_since_contact. They
// step at the time of day of their event, which spreads due times over the
// day instead of piling them up at midnight. The rolling window, in
// contrast, is in UTC calendar days because the store buckets purchases by
// calendar day. Everything a rule can see is a step function of time: the
// model quantities (P(alive), expected purchases, CLV) are evaluated at the
// start of the customer's current recency day, so they change only when
// recency_days does.
//
// # Metrics
//
// Money is exact in the store (int64 minor units) and becomes float64 major
// units here, for rules: minor / minor_per_major. The window metrics
// (frequency, monetary, margin, profit) sum the store's buckets: a bucket
// starting on day D (D = floor(day/bucket_days)*bucket_days) counts while
//
//	D + bucket_days > today - window_days
//
// that is while the age of its last day is at most window_days. A purchase
// of age a days counts while a <= window_days, and at worst bucket_days-1
// days longer: the window is exact to the bucket size. Refunds are negative
// money in their own bucket (they reduce monetary, not frequency). Recency
// reads LastPurchase, the latest event time the store has seen, so a late
// event never makes a customer less recent. A customer who never purchased
// has recency_days = NeverDays (100000); one never contacted has
// days_since_contact = NeverDays. The full list with units is in
// README.fragment.md.
//
// # Scores
//
// R, F, M and T are 1..5 (5 best; R is inverted: more recent is better), 0
// for a customer who never purchased. Each has four ascending cut points
// c1 < c2 < c3 < c4; the ascending score is 1 + #{k : v > ck}, so a cut
// point is the inclusive upper bound of its band (recency_days 30 with the
// default thresholds [30, 60, 120, 240] is still R = 5).
//
// In thresholds mode the cut points are Config.Thresholds. In quantile mode
// they are the quintiles of the active population (customers with a sale
// in the window): ck = Q(k/5) for frequency and monetary. Recency and
// tenure grow with time, so their histograms hold the day numbers of the
// last and the first purchase, which do not go stale, and the cut points
// in days are ck = day(AsOf) - Q_day(1 - k/5). Until the population has
// min_population active customers (or without one), quantile mode uses the
// thresholds.
//
// The population is built from mergeable Histograms with integer bin keys
// (the store keeps bins as Redis hash fields, one set per partition):
// exact bins for day numbers and frequency, DDSketch-style log bins of
// relative accuracy 1 % for monetary (bin k holds (γ^(k-1), γ^k], γ =
// (1+α)/(1-α), and returns 2γ^k/(γ+1)). Every quantile is within 1 % of the
// value of the right rank (at most 0.99 % measured over 2·10^5 values). A
// customer's Contrib is its bin in each histogram (zero when inactive);
// the processor moves the customer when it changes.
//
// # Hysteresis
//
// Quantile cut points move as the population changes; a customer sitting
// on a boundary would flap between two scores. In quantile mode each cut
// point ck has a band [lo_k, hi_k] = [Q(k/5 - h), Q(k/5 + h)] where h is
// Config.Hysteresis, a fraction of the population (Default 0.05: five
// percentiles on each side). A customer whose previous score p is stored
// in Customer.Scores keeps it unless the value is past the band:
//
//	score = clamp(p, 1 + #{k : v > hi_k}, 1 + #{k : v > lo_k})
//
// Without a previous score (or with fixed thresholds, which do not move)
// the score is 1 + #{k : v > ck}. A segmentation with its own mode (see
// below) gets scores without hysteresis.
//
// # Profiles
//
// A profile is a weighted sum of normalized variables: scores (recency,
// frequency, monetary, tenure, or r, f, m, t) as x = (s-1)/4, any other
// numeric variable as x = min(max(v, 0)/cap, 1) with cap from Config.Caps.
// With S = Σ w_i x_i, Smin = Σ_{w_i<0} w_i and Smax = Σ_{w_i>0} w_i (the
// least and greatest attainable sums),
//
//	score.<profile> = 100 (S - Smin) / (Smax - Smin)
//
// which is always in 0..100, also with negative weights.
//
// # Segmentations
//
// A segmentation is an ordered list of rules, boolean expressions in the
// expr language (github.com/expr-lang/expr) over a flat environment of the
// variables; the first rule that holds gives the segment, else the
// segmentation's default. Segmentations are evaluated in order and a rule
// can read the segments of earlier ones as segment.<name>, and profile
// scores as score.<name> (the dotted names are single variables: a typo in
// them is an unknown name). Every rule is compiled once by NewEngine against
// the typed environment, so unknown variables, type errors and syntax
// errors fail at start-up with the key, the segmentation, the rule index
// and segment, and the line and column. A rule that fails at run time (an
// integer division by zero) counts as not matching and is reported in
// Result.Err. A segmentation may set its own mode; its r, f, m, t, fm and
// rfm are then computed in that mode.
//
// The shipped segmentations (default.yaml): rfm, the classic RFM segment
// map on r and fm = (f+m)/2; value, value categories (below_zero,
// high_performance, high_potential, standard); loyalty tiers; pareto, the
// Pareto set: the customers with the highest window monetary values whose
// sum first reaches 80 % of the window revenue, from the monetary
// histogram.
//
// # Churn and value
//
// With a usable fitted Model (BG/NBD and Gamma-Gamma, package clv) the
// customer's summary is X = PurchaseDays-1, TX = day(LastPurchase) -
// day(FirstPurchase), T = TX + recency_days, in the model's time unit, and
// Mean = lifetime value per sale (major units; the store has no separate
// first purchase, so this approximates the mean of the repeat purchases):
//
//	p_alive            = BGNBD.PAlive(X, TX, T)
//	expected_purchases = BGNBD.ConditionalExpectedPurchases(H, X, TX, T)
//	clv                = clv.CLV(params, summary, H, d_unit)
//
// with H the horizon in time units and d_unit = (1+annual_discount)^(unit
// /365 days) - 1. If the model's spend (Model.Value) differs from
// clv.value, CLV is converted with the customer's lifetime margin/money
// ratio. BG/NBD lets nobody drop out before the first repeat purchase, so
// for X = 0 P(alive) comes from the heuristic below with the population's
// mean gap alpha/r time units.
//
// Without a model, the recency heuristic: the expected gap g between
// purchases is (LastPurchase - FirstPurchase) / (PurchaseDays - 1), or
// churn.default_gap_days for a customer with one purchase day, bounded to
// [min_gap_days, max_gap_days]; with k = recency_days,
//
//	p_alive            = 1 if k <= g, else exp(-(k - g) / g)
//	expected_purchases = p_alive * horizon_days / g
//	clv                = expected_purchases * value per sale * D
//
// where D = (1 - (1+r)^-y) / (y ln(1+r)), y = horizon_days/365, is the mean
// discount of value spread evenly over the horizon. Levels: high when
// p_alive < churn.high_below, medium when < churn.medium_below, else low;
// with the defaults a customer is medium after g(1 + ln 2) days and high
// after g(1 + ln 5) days without a purchase. A customer who never purchased
// has no level (""), p_alive 0. Churn.Model is the model's Version or
// "heuristic".
//
// # Next due time
//
// Result.NextDue is the earliest instant after now at which something the
// customer publishes (segments, churn level) or its population contribution
// could change with no new event, from:
//
//   - the oldest counted window bucket leaving the window, at 00:00 UTC of
//     day D + bucket_days + window_days (always: it changes Contrib);
//   - the churn level changing: P(alive) is non-increasing in recency, so
//     the first recency day with another level is found by bisection (exact);
//   - the R and T scores crossing their next cut point, or the upper end of
//     its hysteresis band (exact), when rules use r, t, rfm or a profile
//     using them;
//   - for every comparison in a rule of a time-dependent variable
//     (recency_days, tenure_days, days_since_contact, p_alive,
//     expected_purchases, clv) with a constant or with an expression of
//     variables that only change at other due events (clv >= 2 * margin),
//     the first day the comparison's truth changes (exact for the
//     comparison; conservative for the rule, whose other conditions may not
//     hold); any other use of such a variable (arithmetic, a profile) makes
//     every step of its day counter due (conservative);
//   - the cap max_due (Default 30 days) for customers with purchases, so
//     population and model changes reach everyone.
//
// NextDue is zero only for a customer without purchases whose rules use
// nothing time-dependent. Changes of the population or the model between
// refreshes are not due events; they reach a customer with its next event
// or due time. Hysteresis crossings assume the processor stored
// Result.Scores in Customer.Scores.
//
// # Hold-out groups
//
// A customer is in the hold-out group when FNV-1a-64(salt || id) mod 10000
// < round(percent*100), deterministic, so another system can recompute it.
//
// # Recovery
//
// Engine.Recovery maps a complaint's severity (1 low .. 4 critical) and the
// customer's value tier (segment of recovery.value_segmentation) to a
// priority (recovery.priority[tier][severity-1]) and a compensation limit
// (recovery.compensation[tier] * severity_scale[severity-1], minor units).
// With the defaults:
//
//	tier \ severity    low  medium  high  critical
//	high_performance   p3   p2      p1    p1
//	high_potential     p4   p3      p2    p1
//	standard           p4   p4      p3    p2
//	below_zero         p4   p4      p4    p3
//
// # Configuration version
//
// Config.Version (Default: 12 hex digits of the SHA-256 of the canonical
// YAML of the configuration) goes into output events, so a consumer can
// tell which weights and rules decided a segment.
package scoring
