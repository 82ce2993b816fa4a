package ruby

import (
	"errors"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
)

// blockVar finds the block parameter of Gem::Specification.new (usually "s"
// or "spec").
var blockVar = analyzer.Regexp(`Gem::Specification\.new\b[^|\n]{0,200}\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|`)

// ParseGemspec reads a gem's name, version and licenses from the text of its
// specification without running it: literal assignments to the block
// variable of Gem::Specification.new ("s.name = "rack".freeze",
// "s.version = Gem::Version.new("1.0")"), else the "# stub:" line RubyGems
// writes into installed specifications, else the file name
// ("<name>-<version>[-<platform>].gemspec").
func ParseGemspec(b []byte, filename string) (Gem, error) {
	text := string(b)
	v := "s"
	if m := blockVar().FindStringSubmatch(text); m != nil {
		v = m[1]
	} else if !strings.Contains(text, "Gem::Specification") {
		return Gem{}, errors.New("gemspec without Gem::Specification")
	}
	var g Gem
	var stubName, stubVersion string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "# stub: "); ok && stubName == "" {
			if f := strings.Fields(rest); len(f) >= 2 {
				stubName, stubVersion = f[0], f[1]
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, v+".")
		if !ok {
			continue
		}
		attr, rhs, ok := assignment(rest)
		if !ok {
			continue
		}
		switch attr {
		case "name":
			if s, ok := literal(rhs); ok && g.Name == "" {
				g.Name = s
			}
		case "version":
			if s, ok := versionLiteral(rhs); ok && g.Version == "" {
				g.Version = s
			}
		case "license", "licenses":
			if g.Licenses == nil {
				g.Licenses = literals(rhs)
			}
		}
	}
	if g.Name == "" && validName(stubName) {
		g.Name = stubName
	}
	if g.Version == "" && stubName == g.Name && validVersion(stubVersion) {
		g.Version = stubVersion
	}
	if g.Version == "" && g.Name != "" {
		if rest, ok := strings.CutPrefix(strings.TrimSuffix(filename, ".gemspec"), g.Name+"-"); ok {
			g.Version, _, _ = strings.Cut(rest, "-")
		}
	}
	switch {
	case !validName(g.Name):
		return Gem{}, errors.New("gemspec without a literal gem name")
	case !validVersion(g.Version):
		return Gem{}, errors.New("gemspec of " + g.Name + " without a literal version")
	}
	return g, nil
}

// assignment splits `attr = value` (not `==`).
func assignment(s string) (attr, rhs string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
		i++
	}
	attr = s[:i]
	rest := strings.TrimLeft(s[i:], " \t")
	if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "==") || strings.HasPrefix(rest, "=~") {
		return "", "", false
	}
	return attr, strings.TrimSpace(rest[1:]), attr != ""
}

// versionLiteral reads a version literal: a string, or Gem::Version.new of
// a string.
func versionLiteral(s string) (string, bool) {
	if rest, ok := strings.CutPrefix(s, "Gem::Version.new"); ok {
		rest = strings.TrimSpace(rest)
		rest = strings.TrimSpace(strings.TrimPrefix(rest, "("))
		v, _, ok := readString(rest)
		return v, ok
	}
	return literal(s)
}

// literal reads a string literal that makes up the whole value (optionally
// frozen, optionally followed by a comment or a modifier such as
// "if s.respond_to? ...").
func literal(s string) (string, bool) {
	v, rest, ok := readString(s)
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(strings.TrimPrefix(rest, ".freeze"))
	if rest != "" && !strings.HasPrefix(rest, "#") && !strings.HasPrefix(rest, "if ") && !strings.HasPrefix(rest, "unless ") {
		return "", false
	}
	return v, true
}

// literals reads the string literals of a value that is one string or an
// array of strings, at most 50 of them.
func literals(s string) []string {
	if v, ok := literal(s); ok {
		return []string{v}
	}
	rest, ok := strings.CutPrefix(s, "[")
	if !ok {
		return nil
	}
	var out []string
	for len(out) < 50 {
		rest = strings.TrimSpace(rest)
		v, r, ok := readString(rest)
		if !ok {
			break
		}
		out = append(out, v)
		r = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r), ".freeze"))
		if !strings.HasPrefix(r, ",") {
			break
		}
		rest = r[1:]
	}
	return out
}

// closing pairs the bracket delimiters of %q literals.
var closing = map[byte]byte{'(': ')', '[': ']', '{': '}', '<': '>'}

// readString reads one Ruby string literal at the start of s: "...", '...',
// or %q/%Q/% with any delimiter. Interpolation ("#{") makes a double-quoted
// string non-literal.
func readString(s string) (val, rest string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	var open, end byte
	interp := false
	body := s
	switch {
	case s[0] == '"':
		open, end, interp, body = '"', '"', true, s[1:]
	case s[0] == '\'':
		open, end, body = '\'', '\'', s[1:]
	case s[0] == '%' && len(s) >= 3 && (s[1] == 'q' || s[1] == 'Q'):
		open, interp, body = s[2], s[1] == 'Q', s[3:]
	case s[0] == '%' && strings.IndexByte("([{<|!/", s[1]) >= 0:
		open, interp, body = s[1], true, s[2:]
	default:
		return "", "", false
	}
	if end == 0 {
		end = open
		if c, ok := closing[open]; ok {
			end = c
		}
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			b.WriteByte(body[i])
		case c == end:
			return b.String(), body[i+1:], true
		case interp && c == '#' && i+1 < len(body) && body[i+1] == '{':
			return "", "", false
		case c == open && open != end:
			return "", "", false // nested brackets: not a simple literal
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}
