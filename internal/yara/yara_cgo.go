//go:build cgo

package yara

import (
	"fmt"
	"strings"

	goyara "github.com/Velocidex/go-yara"
)

// Available reports whether this build can compile and run YARA rules.
const Available = true

// compiled holds libyara's rules.
type compiled struct {
	rules *goyara.Rules
}

func compile(srcs []source) (compiled, error) {
	c, err := goyara.NewCompiler()
	if err != nil {
		return compiled{}, fmt.Errorf("yara: %w", err)
	}
	defer c.Destroy()
	for _, s := range srcs {
		if err := c.AddString(s.text, ""); err != nil {
			return compiled{}, fmt.Errorf("yara rules %s: %w%s", s.name, err, compileErrors(c))
		}
	}
	r, err := c.GetRules()
	if err != nil {
		return compiled{}, fmt.Errorf("yara rules: %w%s", err, compileErrors(c))
	}
	return compiled{rules: r}, nil
}

func compileErrors(c *goyara.Compiler) string {
	var b strings.Builder
	for _, m := range c.Errors {
		fmt.Fprintf(&b, "\n  line %d: %s", m.Line, m.Text)
	}
	return b.String()
}

func (c compiled) scan(data []byte) ([]Match, error) {
	var ms goyara.MatchRules
	if err := c.rules.ScanMem(data, goyara.ScanFlagsFastMode, Timeout, &ms); err != nil {
		return nil, err
	}
	out := make([]Match, 0, len(ms))
	for _, m := range ms {
		x := Match{Rule: m.Rule, Namespace: m.Namespace}
		for _, meta := range m.Metas {
			s, _ := meta.Value.(string)
			switch meta.Identifier {
			case "description":
				x.Description = s
			case "severity":
				x.Severity = s
			}
		}
		out = append(out, x)
	}
	return out, nil
}
