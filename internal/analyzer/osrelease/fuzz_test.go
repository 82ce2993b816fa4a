package osrelease

import "testing"

// FuzzParse feeds arbitrary bytes to every release-file parser.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range parsers {
			p.parse(b)
		}
		statusD.parse(b)
	})
}
