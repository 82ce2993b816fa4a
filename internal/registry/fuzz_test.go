package registry

import "testing"

// FuzzParseChallenge feeds WWW-Authenticate values, which come from the
// audited (untrusted) registry.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`)
	f.Add(`Basic realm="test"`)
	f.Add(`Bearer realm="unterminated`)
	f.Add(`Bearer realm=plain, service=x,,=`)
	f.Fuzz(func(t *testing.T, h string) {
		ch := parseChallenge(h)
		if len(ch.params) > len(h) {
			t.Fatalf("%d params from %d bytes", len(ch.params), len(h))
		}
	})
}
