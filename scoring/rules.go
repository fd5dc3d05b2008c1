package scoring

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// compiledSegmentation is a segmentation ready to run.
type compiledSegmentation struct {
	name       string
	key        string // "segment.<name>" in the environment
	quantile   bool   // score mode of its mode-dependent variables
	rules      []compiledRule
	def        string
	defBoxed   any
	usesScores bool // references a mode-dependent variable
}

type compiledRule struct {
	segment string
	boxed   any
	prog    *vm.Program
}

// dotted rewrites score.<profile> and segment.<segmentation> (also written
// score["x"]) into single identifiers named "score.x", so that the
// environment is one flat map and a typo is an unknown name at start-up.
type dotted struct{}

// Visit implements ast.Visitor.
func (dotted) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || (id.Value != "score" && id.Value != "segment") {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	ast.Patch(node, &ast.IdentifierNode{Value: id.Value + "." + prop.Value})
	(*node).SetLocation(id.Location()) // errors point at the start of the name
}

// exprOptions are the compile options of every rule: the typed flat
// environment, the dotted names, and no now() (rules are functions of the
// evaluation time passed in, which due times rely on).
func exprOptions(env types.Map, more ...expr.Option) []expr.Option {
	return append([]expr.Option{expr.Env(env), expr.Patch(dotted{}), expr.DisableBuiltin("now")}, more...)
}

// ruleError describes a rule that does not compile.
func ruleError(i, j int, seg, segment string, err error) error {
	key := fmt.Sprintf("segmentations[%d].rules[%d].when", i, j)
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		return fmt.Errorf("%w: scoring.%s: segmentation %q rule %d (segment %q): line %d, column %d: %s%s",
			ErrConfig, key, seg, j, segment, fe.Line, fe.Column+1, fe.Message, fe.Snippet)
	}
	return fmt.Errorf("%w: scoring.%s: segmentation %q rule %d (segment %q): %w", ErrConfig, key, seg, j, segment, err)
}

// compile compiles every rule and records which variables they use.
func (e *Engine) compile() error {
	base := types.Map{}
	for _, v := range variables {
		base[v.name] = v.kind.exprType()
	}
	for _, p := range e.profiles {
		base[p.key] = types.Float64
	}
	var errs []error
	for i, s := range e.cfg.Segmentations {
		env := maps.Clone(base)
		for _, prev := range e.segs {
			env[prev.key] = types.String
		}
		cs := compiledSegmentation{
			name:     s.Name,
			key:      "segment." + s.Name,
			quantile: e.cfg.Mode == ModeQuantile,
			def:      s.Default,
			defBoxed: any(s.Default),
		}
		if s.Mode != "" {
			cs.quantile = s.Mode == ModeQuantile
		}
		for j, r := range s.Rules {
			prog, err := expr.Compile(r.When, exprOptions(env, expr.AsBool())...)
			if err != nil {
				errs = append(errs, ruleError(i, j, s.Name, r.Segment, err))
				continue
			}
			cs.rules = append(cs.rules, compiledRule{segment: r.Segment, boxed: any(r.Segment), prog: prog})
			e.analyze(prog.Node(), &cs, env)
		}
		e.segs = append(e.segs, cs)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	e.finishDeps()
	for _, v := range variables {
		if e.deps.used[v] && !v.mode {
			e.usedVars = append(e.usedVars, v)
		}
		if e.deps.used[v] && v.mode {
			e.usedModeVars = append(e.usedModeVars, v)
		}
	}
	for i := range e.profiles {
		if e.deps.profiles[i] {
			e.usedProfiles = append(e.usedProfiles, i)
		}
	}
	return nil
}

// deps is what the rules depend on, for filling the environment and for
// computing due times.
type deps struct {
	used     map[*variable]bool
	profiles map[int]bool
	src      source
	rModes   [2]bool // R crossings matter in [thresholds, quantile] mode
	tModes   [2]bool
	// thresholds holds, per clocked variable all of whose uses compare it
	// with a threshold that does not change with time alone (a constant, or
	// an expression over variables that only change at other due events),
	// those thresholds: only their crossings matter.
	thresholds map[*variable][]threshold
	// anyUse holds clocked variables used otherwise: every step matters.
	anyUse map[*variable]bool

	// crossings and steps are thresholds and anyUse in variable order.
	crossings []crossing
	steps     []*variable
}

// threshold is a comparison "variable op value" of a clocked variable
// with c, or with the value of prog when prog is not nil.
type threshold struct {
	op   string // <, <=, >, >=, ==, != with the variable on the left
	c    float64
	prog *vm.Program
}

// holds evaluates "v op c".
func (t *threshold) holds(v, c float64) bool {
	switch t.op {
	case "<":
		return v < c
	case "<=":
		return v <= c
	case ">":
		return v > c
	case ">=":
		return v >= c
	case "==":
		return v == c
	}
	return v != c
}

// exact reports whether the truth of "v op c" changes at most once while
// v moves monotonically, so the first change is exact; == and != change
// when v reaches c and again when it leaves it, so their first change is
// found on the sign of v - c (a day early at worst).
func (t *threshold) exact() bool { return t.op != "==" && t.op != "!=" }

// mirror turns "c op v" into "v op' c".
func mirror(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

type crossing struct {
	v  *variable
	th []threshold
}

func modeIndex(quantile bool) int {
	if quantile {
		return 1
	}
	return 0
}

// analyze records the variables a compiled rule uses, and for clocked
// variables compared with a time-independent threshold, the threshold.
func (e *Engine) analyze(root ast.Node, cs *compiledSegmentation, env types.Map) {
	d := &e.deps
	w := &usageWalker{cmp: map[*ast.IdentifierNode]comparison{}}
	ast.Walk(&root, w)
	for _, id := range w.idents {
		name := id.Value
		if strings.HasPrefix(name, "score.") {
			for i, p := range e.profiles {
				if p.key == name {
					e.useProfile(i)
				}
			}
			continue
		}
		v := variableByName(name)
		if v == nil {
			continue // segment.<name>, or a local variable
		}
		d.used[v] = true
		if v.mode {
			cs.usesScores = true
			if v.src&srcR != 0 {
				d.rModes[modeIndex(cs.quantile)] = true
			}
			if v.src&srcT != 0 {
				d.tModes[modeIndex(cs.quantile)] = true
			}
		}
		if v.clock == clockNone {
			d.src |= v.src &^ (srcR | srcT)
			continue
		}
		cmp, ok := w.cmp[id]
		if !ok {
			d.anyUse[v] = true
			continue
		}
		other := cmp.other
		if c, ok := constValue(other); ok {
			d.thresholds[v] = append(d.thresholds[v], threshold{op: cmp.op, c: c})
			continue
		}
		if !e.timeIndependent(other) {
			d.anyUse[v] = true
			continue
		}
		prog, err := expr.Compile(other.String(), exprOptions(env)...)
		if err != nil {
			d.anyUse[v] = true
			continue
		}
		d.thresholds[v] = append(d.thresholds[v], threshold{op: cmp.op, prog: prog})
	}
}

// timeIndependent reports whether the expression n references no variable
// that changes with time between two due events of the customer, nor a
// mode-dependent one (the environment holds one mode's scores at the end
// of an evaluation), nor a local.
func (e *Engine) timeIndependent(n ast.Node) bool {
	w := &usageWalker{cmp: map[*ast.IdentifierNode]comparison{}}
	ast.Walk(&n, w)
	for _, id := range w.idents {
		if strings.HasPrefix(id.Value, "score.") {
			for _, p := range e.profiles {
				if p.key != id.Value {
					continue
				}
				for _, t := range p.terms {
					if t.v != nil && t.v.clock != clockNone {
						return false
					}
				}
			}
			continue
		}
		if strings.HasPrefix(id.Value, "segment.") {
			continue
		}
		v := variableByName(id.Value)
		if v == nil || v.clock != clockNone || v.mode {
			return false
		}
	}
	return true
}

// finishDeps orders the due-time inputs.
func (e *Engine) finishDeps() {
	d := &e.deps
	for _, v := range variables {
		if d.anyUse[v] {
			d.steps = append(d.steps, v)
		} else if th := d.thresholds[v]; len(th) > 0 {
			d.crossings = append(d.crossings, crossing{v: v, th: th})
		}
	}
}

// useProfile records that rules use profile i: its inputs' changes matter.
func (e *Engine) useProfile(i int) {
	d := &e.deps
	if d.profiles[i] {
		return
	}
	d.profiles[i] = true
	g := modeIndex(e.cfg.Mode == ModeQuantile)
	for _, t := range e.profiles[i].terms {
		switch {
		case t.v != nil:
			d.used[t.v] = true
			if t.v.clock != clockNone {
				d.anyUse[t.v] = true
			} else {
				d.src |= t.v.src
			}
		case t.score == scoreR:
			d.rModes[g] = true
		case t.score == scoreT:
			d.tModes[g] = true
		default:
			d.src |= srcWindow
		}
	}
}

// usageWalker collects identifiers and, for identifiers compared with
// something, the comparison.
type usageWalker struct {
	idents []*ast.IdentifierNode
	cmp    map[*ast.IdentifierNode]comparison
}

// comparison is "identifier op other".
type comparison struct {
	op    string
	other ast.Node
}

// Visit implements ast.Visitor.
func (w *usageWalker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		w.idents = append(w.idents, n)
	case *ast.BinaryNode:
		switch n.Operator {
		case "<", "<=", ">", ">=", "==", "!=":
		default:
			return
		}
		if id, ok := n.Left.(*ast.IdentifierNode); ok {
			w.cmp[id] = comparison{op: n.Operator, other: n.Right}
		}
		if id, ok := n.Right.(*ast.IdentifierNode); ok {
			w.cmp[id] = comparison{op: mirror(n.Operator), other: n.Left}
		}
	}
}

func constValue(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return float64(n.Value), true
	case *ast.FloatNode:
		return n.Value, true
	case *ast.ConstantNode:
		switch v := n.Value.(type) {
		case int:
			return float64(v), true
		case int64:
			return float64(v), true
		case float64:
			return v, true
		}
	case *ast.UnaryNode:
		if n.Operator == "-" {
			v, ok := constValue(n.Node)
			return -v, ok
		}
	}
	return 0, false
}

// number converts an expression result to float64.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}
