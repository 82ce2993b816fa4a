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
// formats.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Read(context.Background(), b)
	})
}
