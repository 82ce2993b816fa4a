package report

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// License strings come from package databases, where they may be SPDX
// expressions ("MIT", "GPL-2.0-or-later OR BSD-3-Clause") or free text
// ("GPLv2+", "Artistic or GPL-1+"). SBOM writers pass the former on as
// expressions and name the latter as LicenseRef- licenses.
//
// The check is syntactic (SPDX 2.3 Annex D): it does not hold a license
// list, so a well-formed identifier that is not on the SPDX list passes.

const (
	maxLicenseLen   = 512
	maxLicenseDepth = 16
)

// licenseExpression joins ls into one SPDX license expression, when every
// element is one; ok is false otherwise.
func licenseExpression(ls []string) (expr string, ok bool) {
	var parts []string
	for _, l := range ls {
		if !validExpression(l) {
			return "", false
		}
		parts = append(parts, l)
	}
	switch len(parts) {
	case 0:
		return "", false
	case 1:
		return strings.TrimSpace(parts[0]), true
	}
	for i, p := range parts {
		p = strings.Join(tokenize(p), " ")
		if strings.Contains(p, " ") {
			p = "(" + p + ")"
		}
		parts[i] = p
	}
	expr = strings.Join(parts, " AND ")
	return expr, validExpression(expr)
}

// licenseRef returns a LicenseRef- identifier for the free-text license s:
// its characters outside the SPDX idstring set become "-", and a short hash
// keeps different texts apart.
func licenseRef(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if isIDChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(s))
	id := strings.Trim(b.String(), "-.")
	if id != "" {
		id += "-"
	}
	return "LicenseRef-" + id + hex.EncodeToString(sum[:4])
}

func isIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.'
}

// validExpression reports whether s is a well-formed SPDX license expression.
func validExpression(s string) bool {
	if s == "" || len(s) > maxLicenseLen {
		return false
	}
	p := &exprParser{toks: tokenize(s)}
	return p.expr(0) && p.pos == len(p.toks)
}

func tokenize(s string) []string {
	var toks []string
	start := -1
	flush := func(i int) {
		if start >= 0 {
			toks = append(toks, s[start:i])
			start = -1
		}
	}
	for i, r := range s {
		switch {
		case r == '(' || r == ')':
			flush(i)
			toks = append(toks, string(r))
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			flush(i)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return toks
}

type exprParser struct {
	toks []string
	pos  int
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// expr := term { OR term }
func (p *exprParser) expr(depth int) bool {
	if depth > maxLicenseDepth || !p.term(depth) {
		return false
	}
	for p.peek() == "OR" {
		p.pos++
		if !p.term(depth) {
			return false
		}
	}
	return true
}

// term := factor { AND factor }
func (p *exprParser) term(depth int) bool {
	if !p.factor(depth) {
		return false
	}
	for p.peek() == "AND" {
		p.pos++
		if !p.factor(depth) {
			return false
		}
	}
	return true
}

// factor := "(" expr ")" | license [ WITH exception ]
func (p *exprParser) factor(depth int) bool {
	if p.peek() == "(" {
		p.pos++
		if !p.expr(depth+1) || p.peek() != ")" {
			return false
		}
		p.pos++
		return true
	}
	if !licenseID(p.peek()) {
		return false
	}
	p.pos++
	if p.peek() == "WITH" {
		p.pos++
		if !idString(p.peek()) {
			return false
		}
		p.pos++
	}
	return true
}

// licenseID accepts idstring["+"], LicenseRef-idstring and
// DocumentRef-idstring:LicenseRef-idstring.
func licenseID(t string) bool {
	switch t {
	case "", "AND", "OR", "WITH", "(", ")":
		return false
	}
	if doc, ref, ok := strings.Cut(t, ":"); ok {
		return strings.HasPrefix(doc, "DocumentRef-") && idString(doc) &&
			strings.HasPrefix(ref, "LicenseRef-") && idString(ref)
	}
	if strings.HasPrefix(t, "LicenseRef-") {
		return idString(t)
	}
	return idString(strings.TrimSuffix(t, "+"))
}

func idString(t string) bool {
	if t == "" || t == "AND" || t == "OR" || t == "WITH" {
		return false
	}
	for _, r := range t {
		if !isIDChar(r) {
			return false
		}
	}
	return true
}
