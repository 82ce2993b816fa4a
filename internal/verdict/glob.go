package verdict

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Glob matches names: `*` matches any run of characters but `/`, `**`
// any run at all, `?` one character but `/`. Matching is
// case-sensitive, except for registries (host names), which are
// compared in lower case.
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// maxGlob bounds a pattern's length.
const maxGlob = 512

// NewGlob compiles a pattern.
func NewGlob(pattern string) (Glob, error) {
	if pattern == "" || len(pattern) > maxGlob {
		return Glob{}, fmt.Errorf("pattern %q: want 1 to %d characters", pattern, maxGlob)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Glob{}, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return Glob{pattern: pattern, re: re}, nil
}

// String returns the pattern.
func (g Glob) String() string { return g.pattern }

// Match reports whether s matches the pattern.
func (g Glob) Match(s string) bool { return g.re != nil && g.re.MatchString(s) }

// UnmarshalYAML reads a pattern.
func (g *Glob) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "pattern")
	if err != nil {
		return err
	}
	v, err := NewGlob(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*g = v
	return nil
}

// anyMatch reports whether one of globs matches one of names; an empty
// list matches everything.
func anyMatch(globs []Glob, names ...string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		for _, n := range names {
			if n != "" && g.Match(n) {
				return true
			}
		}
	}
	return false
}
