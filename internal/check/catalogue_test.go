package check_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/check"
)

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range check.All() {
		if c.ID == "" || c.Title == "" || c.Remediation == "" || c.Severity.Rank() == 0 || seen[c.ID] {
			t.Errorf("incomplete or duplicate check %+v", c)
		}
		seen[c.ID] = true
	}
}

func TestParseSkip(t *testing.T) {
	set, err := check.ParseSkip([]string{" User-Root ", "", check.HistoryAddLocal})
	if err != nil || len(set) != 2 || !set[check.UserRoot] || !set[check.HistoryAddLocal] {
		t.Fatalf("ParseSkip = %v, %v", set, err)
	}
	if _, err := check.ParseSkip([]string{"user-root", "no-such-check"}); err == nil {
		t.Error("ParseSkip accepted an unknown id")
	}
}

func TestFinding(t *testing.T) {
	f := check.With(check.Finding(check.HistoryAddRemote), "instruction", "ADD")
	if f.ID != check.HistoryAddRemote || f.Extra["cis"] != "4.9" || f.Extra["instruction"] != "ADD" || f.Description == "" {
		t.Errorf("finding %+v", f)
	}
}

// TestLeaf keeps the catalogue a leaf: the analyzers and the command line
// import it, so it imports nothing of customs but the model.
func TestLeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && p != "github.com/customs-scanner/customs/internal/model" {
				t.Errorf("%s imports %s: the catalogue may import only the standard library and internal/model", name, p)
			}
		}
	}
}
