package dpkg

import (
	"strings"
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

// FuzzParseMD5Sums feeds arbitrary bytes to the md5sums parser: it must
// not panic, and every file it returns has a clean relative path and an
// md5 digest.
func FuzzParseMD5Sums(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		files, _ := ParseMD5Sums(b)
		if len(files) > MaxOwnedFiles {
			t.Fatalf("%d files", len(files))
		}
		for _, o := range files {
			if strings.HasPrefix(o.Path, "/") || strings.Contains("/"+o.Path+"/", "/../") || len(o.Digest) != len("md5:")+32 {
				t.Fatalf("file %+v", o)
			}
		}
	})
}
