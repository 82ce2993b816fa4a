// Package yara compiles YARA rules from files and matches them against
// content in memory, through github.com/Velocidex/go-yara, which compiles
// libyara 4.5 from the C sources it bundles: building needs only gcc, no
// system YARA library.
package yara

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	goyara "github.com/Velocidex/go-yara"
)

// Rules is a compiled rule set, safe for concurrent scanning.
type Rules struct {
	rules *goyara.Rules
	ident string
	// Files lists the rule files compiled.
	Files []string
}

// Timeout bounds one scan.
const Timeout = 30 * time.Second

// Load compiles a rule file, or every .yar and .yara file in a directory.
func Load(path string) (*Rules, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("yara rules: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("yara rules: %w", err)
		}
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".yar" || ext == ".yara") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("yara rules: no .yar or .yara files in %s", path)
		}
	}
	c, err := goyara.NewCompiler()
	if err != nil {
		return nil, fmt.Errorf("yara: %w", err)
	}
	defer c.Destroy()
	id := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("yara rules: %w", err)
		}
		fmt.Fprintf(id, "%s\x00", filepath.Base(f))
		id.Write(b)
		if err := c.AddString(string(b), ""); err != nil {
			return nil, fmt.Errorf("yara rules %s: %w%s", f, err, compileErrors(c))
		}
	}
	r, err := c.GetRules()
	if err != nil {
		return nil, fmt.Errorf("yara rules: %w%s", err, compileErrors(c))
	}
	return &Rules{rules: r, ident: hex.EncodeToString(id.Sum(nil)), Files: files}, nil
}

func compileErrors(c *goyara.Compiler) string {
	var b strings.Builder
	for _, m := range c.Errors {
		fmt.Fprintf(&b, "\n  line %d: %s", m.Line, m.Text)
	}
	return b.String()
}

// Identity is a digest of the rule files, for cache keys.
func (r *Rules) Identity() string { return r.ident }

// Match is one rule that matched.
type Match struct {
	Rule        string
	Namespace   string
	Description string
	// Severity is the rule's "severity" meta value, when it has one.
	Severity string
}

// Scan returns the rules that match data.
func (r *Rules) Scan(data []byte) ([]Match, error) {
	var ms goyara.MatchRules
	if err := r.rules.ScanMem(data, goyara.ScanFlagsFastMode, Timeout, &ms); err != nil {
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
