package regapi

import "testing"

// FuzzParseChallenge feeds WWW-Authenticate values, which come from the
// audited (untrusted) registry.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"`)
	f.Add(`Basic realm="test"`)
	f.Add(`Bearer realm="unterminated`)
	f.Add(`Bearer realm=plain, service=x,,=`)
	f.Fuzz(func(t *testing.T, h string) {
		ch := ParseChallenge(h)
		if len(ch.Params) > len(h) {
			t.Fatalf("%d params from %d bytes", len(ch.Params), len(h))
		}
	})
}

// FuzzErrorCodes feeds error bodies of the audited registry.
func FuzzErrorCodes(f *testing.F) {
	f.Add([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}`))
	f.Add([]byte(`{"errors":[{"code":"UNAUTHORIZED","detail":[{"Type":"repository","Name":"a","Action":"push"}]}]}`))
	f.Add([]byte(`{"errors":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if codes := ErrorCodes(b); len(codes) > maxCodes {
			t.Fatalf("%d codes", len(codes))
		}
	})
}

// FuzzParseToken feeds token-realm answers.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln","expires_in":300}`))
	f.Add([]byte(`{"access_token":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tok := ParseToken(b); len(tok) > len(b) {
			t.Fatalf("token of %d bytes from %d", len(tok), len(b))
		}
	})
}
