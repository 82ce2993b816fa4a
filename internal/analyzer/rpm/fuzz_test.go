package rpm

import (
	"context"
	"testing"
)

// FuzzParseHeader feeds arbitrary bytes to the package header parser.
func FuzzParseHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseHeader(b); err != nil {
			return
		}
	})
}

// FuzzRead feeds arbitrary bytes to the whole database reader, all three
// formats. Every header takes at least 24 bytes of its own in the file
// (its counts and one index entry), so no input yields more packages than
// that allows.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Read(context.Background(), b)
		if len(pkgs) > len(b)/24 {
			t.Fatalf("%d packages from %d bytes", len(pkgs), len(b))
		}
	})
}
