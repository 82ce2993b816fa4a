package apk

import "testing"

// FuzzParse feeds arbitrary bytes to the installed-database parser.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _ := Parse(b)
		if len(entries) > MaxPackages {
			t.Fatalf("%d entries", len(entries))
		}
		for _, e := range entries {
			if e.Name == "" || e.Version == "" || len(e.Name) > MaxValueBytes {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
