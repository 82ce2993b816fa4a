// Package yara compiles YARA rules from files and matches them against
// content in memory, through github.com/Velocidex/go-yara, which compiles
// libyara 4.5 from the C sources it bundles: building needs only gcc, no
// system YARA library. A customs built without cgo has no YARA: Load then
// fails with ErrUnavailable (see Available).
package yara

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrUnavailable is Load's error in a build without cgo.
var ErrUnavailable = errors.New("this customs was built without cgo: YARA rules are not available")

// Rules is a compiled rule set, safe for concurrent scanning.
type Rules struct {
	rules compiled
	ident string
	// Files lists the rule files compiled.
	Files []string
}

// Timeout bounds one scan.
const Timeout = 30 * time.Second

// source is one rule file's name and text.
type source struct {
	name, text string
}

// Load compiles a rule file, or every .yar and .yara file in a directory.
func Load(path string) (*Rules, error) {
	if !Available {
		return nil, ErrUnavailable
	}
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
	id := sha256.New()
	srcs := make([]source, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("yara rules: %w", err)
		}
		fmt.Fprintf(id, "%s\x00", filepath.Base(f))
		id.Write(b)
		srcs = append(srcs, source{name: f, text: string(b)})
	}
	c, err := compile(srcs)
	if err != nil {
		return nil, err
	}
	return &Rules{rules: c, ident: hex.EncodeToString(id.Sum(nil)), Files: files}, nil
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
func (r *Rules) Scan(data []byte) ([]Match, error) { return r.rules.scan(data) }
