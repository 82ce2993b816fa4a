package clamav

import (
	"strconv"
	"strings"
)

// logicalSig is a logical signature: sub-signatures combined by an
// expression over their match counts.
type logicalSig struct {
	name             string
	pua              bool
	target           int
	minSize, maxSize int64 // maxSize < 0: no limit
	expr             *node
	subs             []*bodySig
}

// node is a logical expression: a sub-signature reference (sub >= 0) or
// an operator over children, with an optional count comparison.
type node struct {
	sub      int
	op       byte // '&' or '|' for operators
	kids     []*node
	cmp      byte // 0, '=', '>' or '<'
	cmpValue int
}

// parseLogical reads "Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1...".
func parseLogical(s string, pua bool) (*logicalSig, string) {
	f := strings.Split(s, ";")
	if len(f) < 4 {
		return nil, "fewer than 4 fields"
	}
	if f[0] == "" {
		return nil, "empty signature name"
	}
	l := &logicalSig{name: f[0], pua: pua || strings.HasPrefix(f[0], "PUA."), maxSize: -1}
	for _, kv := range strings.Split(f[1], ",") {
		k, v, _ := strings.Cut(kv, ":")
		switch k {
		case "Target":
			t, why := parseTarget(v)
			if why != "" {
				return nil, why
			}
			l.target = t
		case "Engine":
		case "FileSize":
			lo, hi, ok := strings.Cut(v, "-")
			a, err1 := strconv.ParseInt(lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				return nil, "bad FileSize " + strconv.Quote(v)
			}
			l.minSize, l.maxSize = a, b
		default:
			return nil, "unsupported target description " + strconv.Quote(k)
		}
	}
	if len(f)-3 > maxParts {
		return nil, "too many sub-signatures"
	}
	for _, ss := range f[3:] {
		sub, why := parseSub(ss)
		if why != "" {
			return nil, "sub-signature: " + why
		}
		sub.target = l.target
		l.subs = append(l.subs, sub)
	}
	p := &exprParser{s: f[2], subs: len(l.subs)}
	e, why := p.expr(0)
	if why == "" && p.i != len(p.s) {
		why = "unexpected " + strconv.Quote(p.s[p.i:])
	}
	if why != "" {
		return nil, "logical expression: " + why
	}
	l.expr = e
	return l, ""
}

// parseSub reads a body sub-signature: [offset:]hex[::modifiers].
func parseSub(s string) (*bodySig, string) {
	s, mods, _ := strings.Cut(s, "::")
	if mods != "" && mods != "a" {
		return nil, "modifiers " + strconv.Quote(mods) + " are not supported"
	}
	if strings.ContainsAny(s, "/#") {
		return nil, "PCRE and byte-compare sub-signatures are not supported"
	}
	off := offset{}
	if o, hx, ok := strings.Cut(s, ":"); ok {
		var why string
		if off, why = parseOffset(o); why != "" {
			return nil, why
		}
		s = hx
	}
	sig, why := parseHex(s)
	if why != "" {
		return nil, why
	}
	sig.off = off
	return sig, ""
}

type exprParser struct {
	s     string
	i     int
	subs  int
	depth int
}

const maxExprDepth = 32

func (p *exprParser) expr(depth int) (*node, string) {
	if depth > maxExprDepth {
		return nil, "nested too deeply"
	}
	left, why := p.unary(depth)
	if why != "" {
		return nil, why
	}
	for p.i < len(p.s) && (p.s[p.i] == '&' || p.s[p.i] == '|') {
		op := p.s[p.i]
		p.i++
		right, why := p.unary(depth)
		if why != "" {
			return nil, why
		}
		if left.op == op && left.cmp == 0 {
			left.kids = append(left.kids, right)
		} else {
			left = &node{sub: -1, op: op, kids: []*node{left, right}}
		}
	}
	return left, ""
}

func (p *exprParser) unary(depth int) (*node, string) {
	var n *node
	switch {
	case p.i < len(p.s) && p.s[p.i] == '(':
		p.i++
		e, why := p.expr(depth + 1)
		if why != "" {
			return nil, why
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, "missing )"
		}
		p.i++
		n = &node{sub: -1, op: e.op, kids: e.kids, cmp: e.cmp, cmpValue: e.cmpValue}
		if e.op == 0 {
			n = &node{sub: -1, op: '|', kids: []*node{e}}
		}
	default:
		v, ok := p.number()
		if !ok {
			return nil, "expected a sub-signature number"
		}
		if v >= p.subs {
			return nil, "sub-signature " + strconv.Itoa(v) + " does not exist"
		}
		n = &node{sub: v}
	}
	if p.i < len(p.s) && strings.IndexByte("=><", p.s[p.i]) >= 0 {
		n.cmp = p.s[p.i]
		p.i++
		v, ok := p.number()
		if !ok {
			return nil, "expected a count"
		}
		n.cmpValue = v
		if p.i < len(p.s) && p.s[p.i] == ',' {
			return nil, "distinct-match counts are not supported"
		}
	}
	return n, ""
}

func (p *exprParser) number() (int, bool) {
	j := p.i
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	v, err := strconv.Atoi(p.s[p.i:j])
	if err != nil || v > 1<<20 {
		return 0, false
	}
	p.i = j
	return v, true
}

// eval returns the node's match count and truth.
func (n *node) eval(counts map[int]int, base int) (int, bool) {
	var c int
	var ok bool
	if n.sub >= 0 {
		c = counts[base+n.sub]
		ok = c > 0
	} else {
		ok = n.op == '&'
		for _, k := range n.kids {
			kc, kok := k.eval(counts, base)
			c += kc
			if n.op == '&' {
				ok = ok && kok
			} else {
				ok = ok || kok
			}
		}
	}
	switch n.cmp {
	case '=':
		ok = c == n.cmpValue
	case '>':
		ok = c > n.cmpValue
	case '<':
		ok = c < n.cmpValue
	}
	return c, ok
}

func (l *logicalSig) matches(t *Target, counts map[int]int, types map[int]bool) bool {
	if t.Size < l.minSize || (l.maxSize >= 0 && t.Size > l.maxSize) {
		return false
	}
	ok, seen := types[l.target]
	if !seen {
		ok = typeMatches(l.target, t.Data)
	}
	if !ok {
		return false
	}
	_, ok = l.expr.eval(counts, l.subs[0].id)
	return ok
}
