package regapi

import (
	"slices"
	"testing"
)

func TestParseChallenge(t *testing.T) {
	// As distribution v3.1.2's token and htpasswd authenticators send them.
	ch := ParseChallenge(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push",error="insufficient_scope"`)
	if ch.Scheme != "bearer" || ch.Params["realm"] != "https://auth.example/token" || ch.Params["service"] != "registry.example" ||
		ch.Params["scope"] != "repository:team/app:pull,push" || ch.Params["error"] != "insufficient_scope" {
		t.Errorf("bearer: %+v", ch)
	}
	ch = ParseChallenge(`Basic realm="basic-realm"`)
	if ch.Scheme != "basic" || ch.Params["realm"] != "basic-realm" || len(ch.Params) != 1 {
		t.Errorf("basic: %+v", ch)
	}
	if ch := ParseChallenge(""); ch.Scheme != "" || len(ch.Params) != 0 {
		t.Errorf("empty: %+v", ch)
	}
}

func TestErrorCodes(t *testing.T) {
	// The body distribution answers an invalid manifest PUT with.
	got := ErrorCodes([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"invalid character"}]}`))
	if !slices.Equal(got, []string{"MANIFEST_INVALID"}) {
		t.Errorf("got %v", got)
	}
	got = ErrorCodes([]byte(`{"errors":[{"code":"unauthorized"},{"code":""},{"code":"DENIED"}]}`))
	if !slices.Equal(got, []string{"UNAUTHORIZED", "DENIED"}) {
		t.Errorf("got %v", got)
	}
	if got := ErrorCodes([]byte("<html>")); got != nil {
		t.Errorf("html: %v", got)
	}
}

func TestParseToken(t *testing.T) {
	for body, want := range map[string]string{
		`{"token":"a","access_token":"b"}`: "a",
		`{"access_token":"b"}`:             "b",
		`{"token":1}`:                      "",
		`not json`:                         "",
	} {
		if got := ParseToken([]byte(body)); got != want {
			t.Errorf("ParseToken(%s) = %q, want %q", body, got, want)
		}
	}
}
