package secret

import (
	"bytes"
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
)

// contextLines is how many lines around a keyword are kept for rules whose
// match spans lines.
const contextLines = 1

// prefilter keeps the lines of a text near a rule keyword, so the rules'
// regular expressions run over a small part of most files: an Aho-Corasick
// pass over the lowercased text finds the keywords in one sweep.
type prefilter struct {
	trie *ahocorasick.Trie
	// all is true when some rule has no keyword and must see everything.
	all bool
}

func newPrefilter(keywords []string, all bool) *prefilter {
	return &prefilter{trie: ahocorasick.NewTrieBuilder().AddStrings(keywords).Build(), all: all}
}

var lowerPool = sync.Pool{New: func() any { return new([]byte) }}

// reduce returns text with the lines far from any keyword emptied (their
// newlines kept, so line numbers hold), and false when no keyword occurs.
func (p *prefilter) reduce(text []byte) ([]byte, bool) {
	if p.all {
		return text, true
	}
	bp := lowerPool.Get().(*[]byte)
	defer lowerPool.Put(bp)
	low := append((*bp)[:0], text...)
	for i, c := range low {
		if 'A' <= c && c <= 'Z' {
			low[i] = c + 'a' - 'A'
		}
	}
	*bp = low
	ms := p.trie.Match(low)
	if len(ms) == 0 {
		return nil, false
	}
	// Line starts, and which lines hold a keyword.
	starts := []int{0}
	for i, c := range text {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	keep := make([]bool, len(starts))
	line := 0
	for _, m := range ms {
		pos := int(m.Pos())
		for line+1 < len(starts) && starts[line+1] <= pos {
			line++
		}
		for l := max(0, line-contextLines); l <= min(len(starts)-1, line+contextLines); l++ {
			keep[l] = true
		}
	}
	out := make([]byte, 0, len(text)/4)
	for l, s := range starts {
		e := len(text)
		if l+1 < len(starts) {
			e = starts[l+1] - 1
		}
		if keep[l] {
			out = append(out, text[s:e]...)
		}
		if l+1 < len(starts) {
			out = append(out, '\n')
		}
	}
	return out, true
}

// keywordsOf lists the keywords of cfg's rules, and whether some rule has
// none.
func keywordsOf(rules map[string][]string) ([]string, bool) {
	seen := map[string]bool{}
	var out []string
	all := false
	for _, ks := range rules {
		if len(ks) == 0 {
			all = true
		}
		for _, k := range ks {
			k = string(bytes.ToLower([]byte(k)))
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out, all
}
