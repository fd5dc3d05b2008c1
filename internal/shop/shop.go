package shop

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/clienting/clienting/events"
)

// Day is 24 hours, the unit of the shop's rates.
const Day = 24 * time.Hour

// Config shapes a shop. The zero value of every field means its default.
type Config struct {
	// Seed makes the stream reproducible: the same Config yields the same
	// events with the same ids. Default: 0 (a valid seed).
	Seed uint64
	// Customers is how many customers join. Default: 1000.
	Customers int
	// Start is when the shop opens. Default: 2025-01-01T00:00:00Z.
	Start time.Time
	// Acquisition is the period after Start over which customers join.
	// Default: 365 days.
	Acquisition time.Duration
	// InitialShare is the share of customers who join in the first week:
	// the customer base the shop starts with. Default: 0.2.
	InitialShare float64
	// End ends the stream: no event is at or after End. Default: zero, an
	// endless stream (campaigns and the last customers go on forever).
	End time.Time
	// IDPrefix starts every customer, event, order, complaint and contact
	// id, so streams of several runs do not collide. Default: "".
	IDPrefix string
	// MinorUnits is the number of decimal places of the currency amounts
	// are generated in (2: cents). Default: 2.
	MinorUnits int

	// R and Alpha are the shape and rate of the Gamma distribution of the
	// purchase rate λ, in purchases per day. Defaults: 0.75 and 20 (mean
	// λ 0.0375: a purchase every 27 days).
	R, Alpha float64
	// A and B are the parameters of the Beta distribution of the dropout
	// probability after each repeat purchase. Defaults: 0.6 and 3.4 (mean
	// 0.15).
	A, B float64
	// HeavyShare is the share of heavy buyers. Default: 0.10.
	HeavyShare float64
	// HeavyFactor multiplies a heavy buyer's purchase rate; heavy buyers
	// also drop out half as often and spend 1.5 times as much. Default: 4.
	HeavyFactor float64

	// SpendP, SpendQ and SpendGamma are the Gamma-Gamma spend parameters in
	// major units: an order is worth Gamma(SpendP, ν), ν ~ Gamma(SpendQ,
	// SpendGamma) per customer (rates, not scales). Defaults: 6, 4 and 25
	// (mean order 50).
	SpendP, SpendQ, SpendGamma float64
	// LossShare is the share of customers served at a negative margin.
	// Default: 0.03.
	LossShare float64

	// RefundRate is the share of purchases refunded. Default: 0.03.
	RefundRate float64
	// ComplaintRate is the share of purchases followed by a complaint.
	// Default: 0.02.
	ComplaintRate float64
	// ResolveShare is the share of complaints resolved later. Default: 0.75.
	ResolveShare float64
	// CampaignInterval is the time between outbound campaigns. Default: 14 days.
	CampaignInterval time.Duration
	// CampaignReach is the share of the customers joined so far that one
	// campaign contacts. Default: 0.15.
	CampaignReach float64
	// InboundPerYear is how often an alive customer contacts the shop on
	// their own. Default: 1.5.
	InboundPerYear float64
}

// Defaults of Config.
var (
	DefaultStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (c *Config) setDefaults() {
	setDefault(&c.Customers, 1000)
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	setDefault(&c.Acquisition, 365*Day)
	setDefault(&c.InitialShare, 0.2)
	setDefault(&c.MinorUnits, 2)
	setDefault(&c.R, 0.75)
	setDefault(&c.Alpha, 20)
	setDefault(&c.A, 0.6)
	setDefault(&c.B, 3.4)
	setDefault(&c.HeavyShare, 0.10)
	setDefault(&c.HeavyFactor, 4)
	setDefault(&c.SpendP, 6)
	setDefault(&c.SpendQ, 4)
	setDefault(&c.SpendGamma, 25)
	setDefault(&c.LossShare, 0.03)
	setDefault(&c.RefundRate, 0.03)
	setDefault(&c.ComplaintRate, 0.02)
	setDefault(&c.ResolveShare, 0.75)
	setDefault(&c.CampaignInterval, 14*Day)
	setDefault(&c.CampaignReach, 0.15)
	setDefault(&c.InboundPerYear, 1.5)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate applies the defaults and checks the configuration.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Customers < 0 {
		errs = append(errs, fmt.Errorf("shop: customers: %d must not be negative", c.Customers))
	}
	if c.Acquisition < 0 {
		errs = append(errs, fmt.Errorf("shop: acquisition: %s must not be negative", c.Acquisition))
	}
	if c.MinorUnits < 0 || c.MinorUnits > 6 {
		errs = append(errs, fmt.Errorf("shop: minor_units: %d must be in 0..6", c.MinorUnits))
	}
	if c.CampaignInterval < time.Hour {
		errs = append(errs, fmt.Errorf("shop: campaign_interval: %s must be at least 1h", c.CampaignInterval))
	}
	positive := map[string]float64{
		"r": c.R, "alpha": c.Alpha, "a": c.A, "b": c.B, "heavy_factor": c.HeavyFactor,
		"spend_p": c.SpendP, "spend_q": c.SpendQ, "spend_gamma": c.SpendGamma, "inbound_per_year": c.InboundPerYear,
	}
	for _, k := range []string{"r", "alpha", "a", "b", "heavy_factor", "spend_p", "spend_q", "spend_gamma", "inbound_per_year"} {
		if v := positive[k]; !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("shop: %s: %v must be a positive number", k, v))
		}
	}
	shares := map[string]float64{
		"initial_share": c.InitialShare, "heavy_share": c.HeavyShare, "loss_share": c.LossShare,
		"refund_rate": c.RefundRate, "complaint_rate": c.ComplaintRate, "resolve_share": c.ResolveShare,
		"campaign_reach": c.CampaignReach,
	}
	for _, k := range []string{"initial_share", "heavy_share", "loss_share", "refund_rate", "complaint_rate", "resolve_share", "campaign_reach"} {
		if v := shares[k]; !(v >= 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("shop: %s: %v must be in 0..1", k, v))
		}
	}
	return errors.Join(errs...)
}

// Profile is a customer's hidden behavior, drawn when the shop is built.
type Profile struct {
	ID          string
	Joined      time.Time // time of the first purchase
	Lambda      float64   // purchases per day while alive
	DropP       float64   // dropout probability after each repeat purchase
	Heavy       bool      // a heavy buyer
	SpendRate   float64   // ν of the Gamma-Gamma model; mean order SpendP/ν major units
	MarginShare float64   // margin as a share of the order value
}

// Stats counts what the shop emitted so far.
type Stats struct {
	Events     int
	Joined     int // customers who made their first purchase
	DroppedOut int // customers who dropped out (hidden state)
	Purchases  int // sales, first purchases included
	Refunds    int
	Complaints int // opened
	Resolved   int
	BySeverity [5]int // complaints opened by events.Severity
	Outbound   int    // campaign contacts
	Inbound    int
	Responses  int   // outbound contacts with outcome clicked or converted
	Revenue    int64 // sales minus refunds, minor units
}

// Shop generates the events. It is not safe for concurrent use.
type Shop struct {
	cfg   Config
	r     *rand.Rand
	custs []customer
	q     queue
	seq   uint64
	ids   map[byte]int // counter per kind of id
	stats Stats
	scale float64 // 10^MinorUnits
	done  bool
}

type customer struct {
	Profile
	dead bool
}

// New builds a shop: it draws every customer's profile and join time.
func New(cfg Config) (*Shop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Shop{
		cfg:   cfg,
		r:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e9955bd1e995)),
		ids:   map[byte]int{},
		scale: math.Pow10(cfg.MinorUnits),
	}
	start := cfg.Start.UTC()
	joins := make([]time.Time, cfg.Customers)
	initial := int(math.Round(cfg.InitialShare * float64(cfg.Customers)))
	first := min(7*Day, cfg.Acquisition)
	for i := range joins {
		span := cfg.Acquisition
		if i < initial {
			span = first
		}
		joins[i] = start.Add(time.Duration(s.r.Float64() * float64(span))).Truncate(time.Second)
	}
	slices.SortStableFunc(joins, func(a, b time.Time) int { return a.Compare(b) })
	s.custs = make([]customer, cfg.Customers)
	for i := range s.custs {
		p := Profile{
			ID:        cfg.IDPrefix + "cust-" + pad(i+1),
			Joined:    joins[i],
			Lambda:    gamma(s.r, cfg.R) / cfg.Alpha,
			DropP:     beta(s.r, cfg.A, cfg.B),
			SpendRate: gamma(s.r, cfg.SpendQ) / cfg.SpendGamma,
		}
		if s.r.Float64() < cfg.HeavyShare {
			p.Heavy = true
			p.Lambda *= cfg.HeavyFactor
			p.DropP /= 2
			p.SpendRate /= 1.5
		}
		if s.r.Float64() < cfg.LossShare {
			p.MarginShare = -0.15 * s.r.Float64()
		} else {
			p.MarginShare = 0.15 + 0.30*s.r.Float64()
		}
		s.custs[i].Profile = p
		s.push(&item{at: p.Joined, kind: kFirst, cust: i})
		s.push(&item{at: p.Joined.Add(expDays(s.r, cfg.InboundPerYear/365)), kind: kInbound, cust: i})
	}
	s.push(&item{at: start.Add(cfg.CampaignInterval / 2), kind: kCampaign})
	return s, nil
}

// pad formats n with at least 6 digits.
func pad(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// Profiles returns the customers' hidden profiles, in join order.
func (s *Shop) Profiles() []Profile {
	out := make([]Profile, len(s.custs))
	for i := range s.custs {
		out[i] = s.custs[i].Profile
	}
	return out
}

// Stats returns the counts of what was emitted so far.
func (s *Shop) Stats() Stats { return s.stats }

// Config returns the configuration with defaults applied.
func (s *Shop) Config() Config { return s.cfg }

// Peek returns the time of the next scheduled happening, or false when the
// stream ended. The next event is at that time or later: a happening may
// produce no event (a campaign being planned, a contact of a customer who
// left).
func (s *Shop) Peek() (time.Time, bool) {
	if s.done || len(s.q) == 0 || s.ended(s.q[0].at) {
		return time.Time{}, false
	}
	return s.q[0].at, true
}

func (s *Shop) ended(t time.Time) bool {
	return !s.cfg.End.IsZero() && !t.Before(s.cfg.End)
}

// Next returns the next event in time order, or false when the stream
// ended (only with Config.End set or no customers).
func (s *Shop) Next() (events.Event, bool) {
	return s.next(time.Time{})
}

// Until returns every event with a time at or before t, in time order,
// appended to dst.
func (s *Shop) Until(dst []events.Event, t time.Time) []events.Event {
	for {
		ev, ok := s.next(t)
		if !ok {
			return dst
		}
		dst = append(dst, ev)
	}
}

// next returns the next event at or before limit (zero: any time).
func (s *Shop) next(limit time.Time) (events.Event, bool) {
	for !s.done && len(s.q) > 0 {
		at := s.q[0].at
		if s.ended(at) {
			s.done = true
			break
		}
		if !limit.IsZero() && at.After(limit) {
			break
		}
		it := heap.Pop(&s.q).(*item)
		if ev, ok := s.handle(it); ok {
			s.stats.Events++
			return ev, true
		}
	}
	return events.Event{}, false
}

type kind uint8

const (
	kFirst kind = iota
	kRepeat
	kRefund
	kComplaint
	kResolve
	kInbound
	kCampaign
	kOutbound
)

// item is a scheduled happening; most become one event.
type item struct {
	at   time.Time
	seq  uint64
	kind kind
	cust int

	ref      string // order, complaint or campaign id
	amount   int64
	margin   int64
	severity events.Severity
	text     string // complaint category or contact channel
}

func (s *Shop) push(it *item) {
	it.at = it.at.UTC().Truncate(time.Second)
	s.seq++
	it.seq = s.seq
	heap.Push(&s.q, it)
}

func (s *Shop) id(k byte, prefix string) string {
	s.ids[k]++
	return s.cfg.IDPrefix + prefix + strconv.FormatUint(s.cfg.Seed, 36) + "-" + strconv.Itoa(s.ids[k])
}

func (s *Shop) event(it *item, typ events.Type) events.Event {
	return events.Event{ID: s.id('e', "ev-"), Type: typ, CustomerID: s.custs[it.cust].ID, Time: it.at}
}

func (s *Shop) handle(it *item) (events.Event, bool) {
	switch it.kind {
	case kFirst, kRepeat:
		return s.purchase(it), true
	case kRefund:
		ev := s.event(it, events.TypePurchase)
		ev.Purchase = events.Purchase{OrderID: it.ref, Refund: true, Amount: it.amount, Margin: it.margin, HasMargin: true, Channel: "web"}
		s.stats.Refunds++
		s.stats.Revenue -= it.amount
		return ev, true
	case kComplaint:
		ev := s.event(it, events.TypeComplaint)
		ev.Complaint = events.Complaint{ComplaintID: it.ref, Severity: it.severity, Category: it.text, Channel: pick(s.r, complaintChannels)}
		s.stats.Complaints++
		s.stats.BySeverity[it.severity]++
		c := &s.custs[it.cust]
		if it.severity >= events.SeverityHigh {
			c.DropP = min(1, c.DropP+0.15) // a bad experience makes leaving likelier
		}
		if s.r.Float64() < s.cfg.ResolveShare {
			s.push(&item{at: it.at.Add(days(s.r, 1, 21)), kind: kResolve, cust: it.cust, ref: it.ref, severity: it.severity, text: it.text})
		}
		return ev, true
	case kResolve:
		ev := s.event(it, events.TypeComplaint)
		ev.Complaint = events.Complaint{ComplaintID: it.ref, Severity: it.severity, Category: it.text, Resolved: true, Channel: "email"}
		s.stats.Resolved++
		return ev, true
	case kInbound:
		c := &s.custs[it.cust]
		if c.dead {
			return events.Event{}, false
		}
		s.push(&item{at: it.at.Add(expDays(s.r, s.cfg.InboundPerYear/365)), kind: kInbound, cust: it.cust})
		ev := s.event(it, events.TypeContact)
		ev.Contact = events.Contact{ContactID: s.id('k', "ctc-"), Channel: pick(s.r, inboundChannels), Inbound: true, Outcome: pick(s.r, inboundOutcomes)}
		s.stats.Inbound++
		return ev, true
	case kCampaign:
		s.campaign(it.at)
		return events.Event{}, false
	case kOutbound:
		c := &s.custs[it.cust]
		ev := s.event(it, events.TypeContact)
		ev.Contact = events.Contact{ContactID: s.id('k', "ctc-"), Channel: it.text, CampaignID: it.ref, Outcome: s.outcome(!c.dead)}
		s.stats.Outbound++
		if ev.Contact.Outcome == "clicked" || ev.Contact.Outcome == "converted" {
			s.stats.Responses++
		}
		return ev, true
	}
	return events.Event{}, false
}

func (s *Shop) purchase(it *item) events.Event {
	c := &s.custs[it.cust]
	cfg := &s.cfg
	z := min(gamma(s.r, cfg.SpendP)/c.SpendRate, 1e6) // major units
	amount := max(int64(math.Round(z*s.scale)), 1)
	margin := int64(math.Round(float64(amount) * c.MarginShare))
	ev := s.event(it, events.TypePurchase)
	order := s.id('o', "ord-")
	ev.Purchase = events.Purchase{
		OrderID: order, Amount: amount, Margin: margin, HasMargin: true,
		Items: 1 + int64(s.r.ExpFloat64()*1.5), Channel: pick(s.r, purchaseChannels),
	}
	s.stats.Purchases++
	s.stats.Revenue += amount
	if it.kind == kFirst {
		s.stats.Joined++
	}
	if s.r.Float64() < cfg.RefundRate {
		ref := amount
		if s.r.Float64() < 0.3 {
			ref = max(int64(float64(amount)*(0.2+0.6*s.r.Float64())), 1)
		}
		s.push(&item{at: it.at.Add(days(s.r, 1, 20)), kind: kRefund, cust: it.cust, ref: order,
			amount: ref, margin: margin * ref / amount})
	}
	if s.r.Float64() < cfg.ComplaintRate {
		s.push(&item{at: it.at.Add(days(s.r, 0.5, 10)), kind: kComplaint, cust: it.cust,
			ref: s.id('c', "cmp-"), severity: severity(s.r), text: pick(s.r, complaintCategories)})
	}
	// BG/NBD: after a repeat purchase the customer drops out with
	// probability p; otherwise the next purchase comes after Exp(λ).
	if it.kind == kRepeat && s.r.Float64() < c.DropP {
		c.dead = true
		s.stats.DroppedOut++
		return ev
	}
	s.push(&item{at: it.at.Add(expDays(s.r, c.Lambda)), kind: kRepeat, cust: it.cust})
	return ev
}

// campaign contacts a share of the customers who joined by t and plans the
// next campaign.
func (s *Shop) campaign(t time.Time) {
	id := s.cfg.IDPrefix + "campaign-" + t.Format("2006-01-02")
	channel := pick(s.r, campaignChannels)
	for i := range s.custs {
		if s.custs[i].Joined.After(t) {
			break // sorted by join time
		}
		if s.r.Float64() < s.cfg.CampaignReach {
			s.push(&item{at: t.Add(time.Duration(s.r.Float64() * float64(6*time.Hour))), kind: kOutbound, cust: i, ref: id, text: channel})
		}
	}
	s.push(&item{at: t.Add(s.cfg.CampaignInterval), kind: kCampaign})
}

// outcome of an outbound contact; alive customers respond more.
func (s *Shop) outcome(alive bool) string {
	u := s.r.Float64()
	switch {
	case alive && u < 0.03, !alive && u < 0.002:
		return "converted"
	case alive && u < 0.10, !alive && u < 0.01:
		return "clicked"
	case alive && u < 0.35, !alive && u < 0.08:
		return "opened"
	}
	return "delivered"
}

var (
	purchaseChannels    = []string{"web", "web", "web", "app", "app", "store"}
	complaintChannels   = []string{"email", "email", "phone", "chat"}
	complaintCategories = []string{"delivery", "product_quality", "billing", "service", "website"}
	inboundChannels     = []string{"phone", "email", "email", "chat", "visit"}
	inboundOutcomes     = []string{"question", "order_status", "feedback"}
	campaignChannels    = []string{"email", "email", "email", "sms", "push"}
)

func pick(r *rand.Rand, from []string) string { return from[r.IntN(len(from))] }

// severity draws low > medium > high > critical (50/30/15/5 %).
func severity(r *rand.Rand) events.Severity {
	switch u := r.Float64(); {
	case u < 0.50:
		return events.SeverityLow
	case u < 0.80:
		return events.SeverityMedium
	case u < 0.95:
		return events.SeverityHigh
	default:
		return events.SeverityCritical
	}
}

// days is a uniform duration between lo and hi days.
func days(r *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + (hi-lo)*r.Float64()) * float64(Day))
}

// expDays is an exponential waiting time with the given rate per day,
// capped at 100 years so it never overflows a Duration.
func expDays(r *rand.Rand, rate float64) time.Duration {
	d := r.ExpFloat64() / rate
	return time.Duration(min(d, 36500) * float64(Day))
}

// gamma draws Gamma(shape, 1) by Marsaglia and Tsang's method.
func gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		// boost: Gamma(a) = Gamma(a+1) * U^(1/a)
		return gamma(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// beta draws Beta(a, b) from two Gamma draws.
func beta(r *rand.Rand, a, b float64) float64 {
	x := gamma(r, a)
	y := gamma(r, b)
	if x+y == 0 {
		return 0
	}
	return x / (x + y)
}

// queue is a min-heap of items by time, then by scheduling order, so the
// stream is deterministic.
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if c := q[i].at.Compare(q[j].at); c != 0 {
		return c < 0
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return it
}
