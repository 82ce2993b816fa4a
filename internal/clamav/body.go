package clamav

import (
	"bytes"
	"strconv"
	"strings"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// part is a run of bytes without gaps; mask bits that are 0 match any
// value (?? and nibble wildcards).
type part struct{ b, mask []byte }

// gap is a run of skipped bytes between two parts: min to max (max < 0:
// unbounded).
type gap struct{ min, max int }

type offsetKind int

const (
	offAny offsetKind = iota
	offAbs
	offEOF
)

// offset constrains where a body signature starts: anywhere, at n (up to
// n+shift), or at size-n (up to size-n+shift).
type offset struct {
	kind     offsetKind
	n, shift int64
}

// bodySig is a body signature (.ndb line or logical sub-signature).
type bodySig struct {
	name   string
	pua    bool
	target int
	off    offset
	parts  []part
	gaps   []gap // gaps[i] lies between parts[i] and parts[i+1]
	// anchor is the fixed run of bytes handed to Aho-Corasick: bytes
	// anchorOff.. of parts[anchorPart].
	anchorPart, anchorOff int
	anchor                []byte
	id                    int
}

// Anchor lengths: ClamAV requires two fixed bytes; four keep the
// Aho-Corasick automaton small while rarely matching by chance.
const (
	minAnchor = 2
	maxAnchor = 4
	maxParts  = 64
)

// parseBody reads "Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]".
func parseBody(s string, pua bool) (*bodySig, string) {
	f := strings.Split(s, ":")
	if len(f) < 4 {
		return nil, "fewer than 4 fields"
	}
	if f[0] == "" {
		return nil, "empty signature name"
	}
	t, why := parseTarget(f[1])
	if why != "" {
		return nil, why
	}
	off, why := parseOffset(f[2])
	if why != "" {
		return nil, why
	}
	sig, why := parseHex(f[3])
	if why != "" {
		return nil, why
	}
	sig.name, sig.pua, sig.target, sig.off = f[0], pua || strings.HasPrefix(f[0], "PUA."), t, off
	return sig, ""
}

func parseTarget(s string) (int, string) {
	t, err := strconv.Atoi(s)
	if err != nil {
		return 0, "bad target type " + strconv.Quote(s)
	}
	switch t {
	case 0, 1, 2, 6, 7, 9, 10, 12:
		return t, ""
	}
	return 0, "unsupported target type " + s
}

func parseOffset(s string) (offset, string) {
	if s == "*" {
		return offset{}, ""
	}
	o := offset{kind: offAbs}
	if rest, ok := strings.CutPrefix(s, "EOF-"); ok {
		o.kind, s = offEOF, rest
	}
	num, shift, hasShift := strings.Cut(s, ",")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return o, "unsupported offset " + strconv.Quote(s)
	}
	o.n = n
	if hasShift {
		if o.shift, err = strconv.ParseInt(shift, 10, 64); err != nil || o.shift < 0 {
			return o, "bad offset shift " + strconv.Quote(shift)
		}
	}
	return o, ""
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseHex reads a hex signature with ClamAV's wildcards: ??, a?, ?a, *,
// {n}, {-n}, {n-}, {n-m} and [n-m]. Alternatives, negations and anchors
// are not supported.
func parseHex(s string) (*bodySig, string) {
	sig := &bodySig{}
	cur := part{}
	pending := gap{}
	hasGap := false
	flush := func() {
		sig.parts = append(sig.parts, cur)
		cur = part{}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '*', '{', '[':
			g := gap{0, -1}
			if c != '*' {
				closer := map[byte]byte{'{': '}', '[': ']'}[c]
				j := strings.IndexByte(s[i:], closer)
				if j < 0 {
					return nil, "unclosed " + string(c)
				}
				var ok bool
				if g, ok = parseGap(s[i+1 : i+j]); !ok {
					return nil, "bad gap " + strconv.Quote(s[i:i+j+1])
				}
				i += j + 1
			} else {
				i++
			}
			if len(cur.b) == 0 {
				if len(sig.parts) == 0 {
					return nil, "signature starts with a gap"
				}
			} else {
				flush()
			}
			if hasGap {
				pending.min += g.min
				if pending.max < 0 || g.max < 0 {
					pending.max = -1
				} else {
					pending.max += g.max
				}
			} else {
				pending, hasGap = g, true
			}
			continue
		case '(', '!', '|', ')':
			return nil, "alternatives and negations are not supported"
		}
		if i+1 >= len(s) {
			return nil, "odd number of hex digits"
		}
		var b, m byte
		for k, d := range []byte{s[i], s[i+1]} {
			shift := uint(4 * (1 - k))
			if d == '?' {
				continue
			}
			v, ok := hexNibble(d)
			if !ok {
				return nil, "bad hex digit " + strconv.Quote(string(d))
			}
			b |= v << shift
			m |= 0xf << shift
		}
		if hasGap {
			sig.gaps = append(sig.gaps, pending)
			hasGap = false
		}
		cur.b = append(cur.b, b)
		cur.mask = append(cur.mask, m)
		i += 2
		if len(sig.parts) >= maxParts {
			return nil, "too many parts"
		}
	}
	if hasGap {
		return nil, "signature ends with a gap"
	}
	if len(cur.b) == 0 {
		return nil, "empty signature"
	}
	flush()
	// The anchor: the longest run of fully fixed bytes, at most maxAnchor.
	best := -1
	for pi, p := range sig.parts {
		run := 0
		for bi := 0; bi <= len(p.b); bi++ {
			if bi < len(p.b) && p.mask[bi] == 0xff {
				run++
				continue
			}
			if run > best {
				best, sig.anchorPart, sig.anchorOff = run, pi, bi-run
			}
			run = 0
		}
	}
	if best < minAnchor {
		return nil, "fewer than 2 consecutive fixed bytes"
	}
	sig.anchor = sig.parts[sig.anchorPart].b[sig.anchorOff : sig.anchorOff+min(best, maxAnchor)]
	return sig, ""
}

func parseGap(s string) (gap, bool) {
	atoi := func(x string) (int, bool) {
		n, err := strconv.Atoi(x)
		return n, err == nil && n >= 0 && n <= 1<<24
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		n, ok := atoi(s)
		return gap{n, n}, ok
	}
	g := gap{0, -1}
	var ok bool
	if lo != "" {
		if g.min, ok = atoi(lo); !ok {
			return g, false
		}
	}
	if hi != "" {
		if g.max, ok = atoi(hi); !ok || g.max < g.min {
			return g, false
		}
	}
	return g, true
}

// bodyIndex finds body signatures through their anchors.
type bodyIndex struct {
	sigs []*bodySig // .ndb signatures
	all  []*bodySig // sigs, then logical sub-signatures
	trie *ahocorasick.Trie
	refs [][]*bodySig // by trie pattern number
}

func (x *bodyIndex) build(subs []*bodySig) {
	x.all = append(append([]*bodySig(nil), x.sigs...), subs...)
	if len(x.all) == 0 {
		return
	}
	byAnchor := map[string]int{}
	var patterns [][]byte
	x.refs = nil
	for i, s := range x.all {
		s.id = i
		k, ok := byAnchor[string(s.anchor)]
		if !ok {
			k = len(patterns)
			byAnchor[string(s.anchor)] = k
			patterns = append(patterns, s.anchor)
			x.refs = append(x.refs, nil)
		}
		x.refs[k] = append(x.refs[k], s)
	}
	x.trie = ahocorasick.NewTrieBuilder().AddPatterns(patterns).Build()
}

// Work bounds for one file: pattern verification steps, and matches
// counted per sub-signature.
const (
	maxSteps = 4 << 20
	maxCount = 1000
)

// scan matches the body and logical signatures against t.
func (x *bodyIndex) scan(t *Target, logical []*logicalSig) []Match {
	if x.trie == nil || len(t.Data) == 0 {
		return nil
	}
	var counts map[int]int
	types := map[int]bool{}
	steps := maxSteps
	x.trie.Walk(t.Data, func(end, n, pat int64) bool {
		p := int(end - n + 1)
		for _, s := range x.refs[pat] {
			c := counts[s.id]
			if c >= maxCount || (c > 0 && s.id < len(x.sigs)) {
				continue
			}
			ok, seen := types[s.target]
			if !seen {
				ok = typeMatches(s.target, t.Data)
				types[s.target] = ok
			}
			if ok && s.matchAt(t, p, &steps) {
				if counts == nil {
					counts = map[int]int{}
				}
				counts[s.id]++
			}
		}
		return steps > 0
	})
	var out []Match
	for _, s := range x.sigs {
		if counts[s.id] > 0 {
			out = append(out, Match{Name: s.name, Kind: "body", PUA: s.pua})
		}
	}
	for _, l := range logical {
		if l.matches(t, counts, types) {
			out = append(out, Match{Name: l.name, Kind: "logical", PUA: l.pua})
		}
	}
	return out
}

// typeMatches reports whether data is of ClamAV target type t.
func typeMatches(t int, d []byte) bool {
	switch t {
	case 0:
		return true
	case 1:
		return bytes.HasPrefix(d, []byte("MZ"))
	case 2:
		return bytes.HasPrefix(d, []byte{0xd0, 0xcf, 0x11, 0xe0})
	case 6:
		return bytes.HasPrefix(d, []byte("\x7fELF"))
	case 7:
		return bytes.IndexByte(d[:min(len(d), 4096)], 0) < 0
	case 9:
		for _, m := range [][]byte{{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe}} {
			if bytes.HasPrefix(d, m) {
				return true
			}
		}
	case 10:
		return bytes.Contains(d[:min(len(d), 1024)], []byte("%PDF-"))
	case 12:
		return bytes.HasPrefix(d, []byte{0xca, 0xfe, 0xba, 0xbe})
	}
	return false
}

func (p *part) at(d []byte, pos int) bool {
	if pos < 0 || pos+len(p.b) > len(d) {
		return false
	}
	for i, b := range p.b {
		if d[pos+i]&p.mask[i] != b {
			return false
		}
	}
	return true
}

// matchAt verifies the whole signature given its anchor found at pos.
func (s *bodySig) matchAt(t *Target, pos int, steps *int) bool {
	start := pos - s.anchorOff
	if !s.parts[s.anchorPart].at(t.Data, start) {
		return false
	}
	if !s.right(t.Data, s.anchorPart+1, start+len(s.parts[s.anchorPart].b), steps) {
		return false
	}
	return s.left(t.Data, s.anchorPart, start, steps, func(st int) bool { return s.offsetOK(t, st) })
}

func (s *bodySig) offsetOK(t *Target, st int) bool {
	var lo int64
	switch s.off.kind {
	case offAny:
		return true
	case offAbs:
		lo = s.off.n
	case offEOF:
		if t.Truncated {
			return false
		}
		lo = t.Size - s.off.n
	}
	return int64(st) >= lo && int64(st) <= lo+s.off.shift
}

// right reports whether parts i.. match after a previous part ending at pos.
func (s *bodySig) right(d []byte, i, pos int, steps *int) bool {
	if i == len(s.parts) {
		return true
	}
	g, p := s.gaps[i-1], &s.parts[i]
	hi := len(d) - len(p.b)
	if g.max >= 0 {
		hi = min(hi, pos+g.max)
	}
	for q := pos + g.min; q <= hi; q++ {
		if *steps--; *steps <= 0 {
			return false
		}
		if p.mask[0] == 0xff {
			j := bytes.IndexByte(d[q:hi+1], p.b[0])
			if j < 0 {
				return false
			}
			q += j
		}
		if p.at(d, q) && s.right(d, i+1, q+len(p.b), steps) {
			return true
		}
	}
	return false
}

// left reports whether parts ..i-1 match before part i starting at pos,
// with a start of the whole signature that ok accepts.
func (s *bodySig) left(d []byte, i, pos int, steps *int, ok func(int) bool) bool {
	if i == 0 {
		return ok(pos)
	}
	g, p := s.gaps[i-1], &s.parts[i-1]
	lo := 0
	if g.max >= 0 {
		lo = max(lo, pos-g.max-len(p.b))
	}
	for q := pos - g.min - len(p.b); q >= lo; q-- {
		if *steps--; *steps <= 0 {
			return false
		}
		if p.at(d, q) && s.left(d, i-1, q, steps, ok) {
			return true
		}
	}
	return false
}
