package scoring

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Engine evaluates customers against a validated configuration. It is
// immutable after NewEngine and safe for concurrent use: every partition
// worker may call Evaluate at the same time (scratch space comes from a
// sync.Pool).
type Engine struct {
	cfg      Config
	thr      [4]cutSet
	quantile bool // Config.Mode is quantile
	needAlt  bool // some segmentation uses scores of the other mode

	profiles     []compiledProfile
	segs         []compiledSegmentation
	deps         deps
	usedVars     []*variable // mode-independent variables the rules use
	usedModeVars []*variable // r, f, m, t, fm, rfm as used
	usedProfiles []int       // profiles the rules use

	discFactor  float64
	maxDueDays  int64
	holdoutCut  uint64
	holdoutSalt string

	cache atomic.Pointer[popCuts]
	pool  sync.Pool
}

// compiledProfile is a profile with its normalization.
type compiledProfile struct {
	name   string
	key    string // "score.<name>"
	terms  []profileTerm
	lo, hi float64 // least and greatest attainable weighted sums
}

type profileTerm struct {
	score int       // scoreR..scoreT when v is nil
	v     *variable // raw variable, normalized by cap
	limit float64   // the cap of a raw variable
	w     float64
}

// evalCtx is the working state of one evaluation.
type evalCtx struct {
	c            *Customer
	now          time.Time
	m            Metrics
	purchased    bool
	oldestBucket int64 // start day of the oldest counted bucket, MaxInt64 if none
	sc, alt      Scores
	cur          *Scores // the scores the environment currently holds
	ch           churnState
	churn        Churn
	level        uint8
	pareto       bool
	holdout      bool
	profiles     []float64
}

type scratch struct {
	x   evalCtx
	env map[string]any
	vm  vm.VM
	// slots hold the numbers the environment refers to (see box.go): one
	// per used variable, then one per used mode variable, then one per
	// used profile
	slots []uint64
}

// NewEngine validates cfg (applying defaults) and compiles its rules. Bad
// rules fail here, each error naming the segmentation, the rule index and
// segment, and the line and column in the expression.
func NewEngine(cfg Config) (*Engine, error) {
	cfg = cfg.clone() // the engine owns its maps and slices
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:         cfg,
		quantile:    cfg.Mode == ModeQuantile,
		discFactor:  discountFactor(cfg.CLV.AnnualDiscount, cfg.CLV.HorizonDays),
		maxDueDays:  int64((cfg.MaxDue + Day - 1) / Day),
		holdoutCut:  uint64(math.Round(cfg.Holdout.Percent * 100)),
		holdoutSalt: cfg.Holdout.Salt,
		deps: deps{
			used:       map[*variable]bool{},
			profiles:   map[int]bool{},
			thresholds: map[*variable][]threshold{},
			anyUse:     map[*variable]bool{},
		},
	}
	t := cfg.Thresholds
	e.thr = [4]cutSet{fixedCuts(t.RecencyDays), fixedCuts(t.Frequency), fixedCuts(t.Monetary), fixedCuts(t.TenureDays)}
	for _, p := range cfg.Profiles {
		cp := compiledProfile{name: p.Name, key: "score." + p.Name}
		for _, k := range sortedKeys(p.Weights) {
			w := p.Weights[k]
			if w == 0 {
				continue
			}
			term := profileTerm{w: w}
			if i, ok := scoreWeightIndex(k); ok {
				term.score = i
			} else {
				term.v = variableByName(k)
				term.limit = cfg.Caps[k]
			}
			cp.terms = append(cp.terms, term)
			if w < 0 {
				cp.lo += w
			} else {
				cp.hi += w
			}
		}
		e.profiles = append(e.profiles, cp)
	}
	if err := e.compile(); err != nil {
		return nil, err
	}
	for _, s := range e.segs {
		if s.usesScores && s.quantile != e.quantile {
			e.needAlt = true
		}
	}
	slots := len(e.usedVars) + len(e.usedModeVars) + len(e.usedProfiles)
	e.pool.New = func() any {
		return &scratch{env: make(map[string]any, len(variables)+len(e.profiles)+len(e.segs)), slots: make([]uint64, slots)}
	}
	return e, nil
}

// Config returns the validated configuration the engine runs.
func (e *Engine) Config() Config { return e.cfg.clone() }

// Version is the configuration version carried in output events.
func (e *Engine) Version() string { return e.cfg.Version }

// SegmentNames returns, per segmentation, every segment it can assign (its
// rules' segments in order, then its default), for bounded metric labels.
func (e *Engine) SegmentNames() map[string][]string {
	out := make(map[string][]string, len(e.segs))
	for _, s := range e.segs {
		var names []string
		for _, r := range s.rules {
			if !slices.Contains(names, r.segment) {
				names = append(names, r.segment)
			}
		}
		if !slices.Contains(names, s.def) {
			names = append(names, s.def)
		}
		out[s.name] = names
	}
	return out
}

// Evaluate scores the customer c as of now. env.Population may be nil
// (quantile scores fall back to thresholds), env.Model may be nil (churn
// and CLV use the recency heuristic). It reads c.Scores as the previous
// scores for hysteresis: store Result.Scores.Packed() back into it.
func (e *Engine) Evaluate(c *Customer, env Env, now time.Time) Result {
	var r Result
	e.EvaluateTo(&r, c, env, now)
	return r
}

// EvaluateTo is Evaluate writing into r, reusing the capacity of
// r.Profiles and r.Segments, for callers that evaluate in a loop.
func (e *Engine) EvaluateTo(r *Result, c *Customer, env Env, now time.Time) {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	x := &s.x
	profiles := x.profiles[:0]
	*x = evalCtx{c: c, now: now, purchased: !c.LastPurchase.IsZero(), profiles: profiles}

	e.computeMetrics(x)
	pc := e.cutsFor(env.Population)
	x.sc = e.scores(x, e.quantile, pc, &c.Scores)
	if e.needAlt {
		x.alt = e.scores(x, !e.quantile, pc, nil)
	}
	x.cur = &x.sc
	e.churn(x, env.Model)
	contrib := e.contrib(x)
	if pc != nil && pc.paretoOK && contrib.Active && x.m.Monetary > 0 {
		x.pareto = contrib.Monetary >= pc.paretoBin
	}
	x.holdout = e.Holdout(c.ID)

	r.Metrics = x.m
	r.Scores = x.sc
	r.Churn = x.churn
	r.Holdout = x.holdout
	r.Contrib = contrib
	r.Err = nil
	r.Profiles = r.Profiles[:0]
	for i := range e.profiles {
		v := e.profileScore(x, &e.profiles[i])
		x.profiles = append(x.profiles, v)
		r.Profiles = append(r.Profiles, ProfileScore{Profile: e.profiles[i].name, Score: v})
	}

	env2 := s.env
	modeSlots := s.slots[len(e.usedVars) : len(e.usedVars)+len(e.usedModeVars)]
	for i, v := range e.usedVars {
		env2[v.name] = v.boxedIn(x, &s.slots[i])
	}
	for j, i := range e.usedProfiles {
		env2[e.profiles[i].key] = boxFloat(&s.slots[len(e.usedVars)+len(e.usedModeVars)+j], x.profiles[i])
	}
	r.Segments = r.Segments[:0]
	var envMode *Scores
	for i := range e.segs {
		sg := &e.segs[i]
		if sg.usesScores {
			want := &x.sc
			if sg.quantile != e.quantile {
				want = &x.alt
			}
			if envMode != want {
				x.cur = want
				for j, v := range e.usedModeVars {
					env2[v.name] = v.boxedIn(x, &modeSlots[j])
				}
				envMode = want
			}
		}
		seg, boxed := sg.def, sg.defBoxed
		for j := range sg.rules {
			rl := &sg.rules[j]
			out, err := s.vm.Run(rl.prog, env2)
			if err != nil {
				if r.Err == nil {
					r.Err = fmt.Errorf("segmentation %q rule %d (segment %q): %w", sg.name, j, rl.segment, err)
				}
				continue
			}
			if b, _ := out.(bool); b {
				seg, boxed = rl.segment, rl.boxed
				break
			}
		}
		env2[sg.key] = boxed
		r.Segments = append(r.Segments, Assignment{Segmentation: sg.name, Segment: seg})
	}
	x.cur = &x.sc
	r.NextDue = e.nextDue(x, pc, s)
	x.c = nil
}

// profileScore is 100 * (S - lo) / (hi - lo) with S = sum(w_i * x_i),
// x_i in [0, 1] the normalized variable, lo and hi the sums of the
// negative and of the positive weights.
func (e *Engine) profileScore(x *evalCtx, p *compiledProfile) float64 {
	var s float64
	for _, t := range p.terms {
		var v float64
		if t.v != nil {
			v = clamp(t.v.num(x)/t.limit, 0, 1)
		} else {
			v = clamp(float64(x.sc.at(t.score)-1)/4, 0, 1)
		}
		s += t.w * v
	}
	if p.hi == p.lo {
		return 0
	}
	return clamp(100*(s-p.lo)/(p.hi-p.lo), 0, 100)
}

// contrib is the customer's population contribution.
func (e *Engine) contrib(x *evalCtx) Contrib {
	if !x.m.Active || !x.purchased {
		return Contrib{}
	}
	c := x.c
	first := c.FirstPurchase
	if first.IsZero() {
		first = c.LastPurchase
	}
	return Contrib{
		Active:    true,
		Recency:   exactLayout.BinOf(float64(dayNumber(c.LastPurchase))),
		Frequency: exactLayout.BinOf(float64(x.m.Frequency)),
		Monetary:  monetaryLayout.BinOf(x.m.Monetary),
		Tenure:    exactLayout.BinOf(float64(dayNumber(first))),
	}
}

// Holdout reports whether the customer id is in the hold-out group:
// FNV-1a-64(salt + id) mod 10000 < round(percent * 100).
func (e *Engine) Holdout(id string) bool {
	return holdout(id, e.holdoutSalt, e.holdoutCut)
}

func holdout(id, salt string, cut uint64) bool {
	if cut == 0 {
		return false
	}
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= prime64
	}
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return h%10000 < cut
}
