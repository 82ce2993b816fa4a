package dpkg

import (
	"testing"
)

// FuzzParse feeds arbitrary bytes to the control-file parser: it must not
// panic, and what it returns must respect its limits.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _ := Parse(b)
		if len(entries) > MaxPackages {
			t.Fatalf("%d entries", len(entries))
		}
		for _, e := range entries {
			if e.Package == "" || e.Version == "" || len(e.Package) > MaxValueBytes || len(e.Source) > MaxValueBytes {
				t.Fatalf("entry %+v", e)
			}
			e.SourcePackage()
			e.HasFiles()
		}
	})
}
