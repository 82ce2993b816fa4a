package dockerauthz

import (
	"strings"
	"testing"
)

// FuzzCreateImage: any AuthZReq body is read without panicking; what
// counts as a create is a POST that IsCreate takes for one.
func FuzzCreateImage(f *testing.F) {
	f.Add(authzReq("POST", "/v1.45/containers/create?name=x", []byte(`{"Image":"nginx:1.27"}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		image, create, err := CreateImage(body)
		if create && err == nil && image != strings.TrimSpace(image) {
			t.Fatalf("image %q not trimmed", image)
		}
		if !create && image != "" {
			t.Fatalf("image %q of a request that is no create", image)
		}
	})
}

// FuzzParseDecideRequest: any body is refused or gives a request whose
// image ID is a sha256 digest, never a panic.
func FuzzParseDecideRequest(f *testing.F) {
	f.Add([]byte(`{"image":"registry.example.com/team/app:1","id":"sha256:` + strings.Repeat("ab", 32) +
		`","repo_digests":["registry.example.com/team/app@sha256:` + strings.Repeat("cd", 32) + `"],"host":"node-1"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseDecideRequest(body)
		if err == nil && (!strings.HasPrefix(req.ID, "sha256:") || len(req.ID) != 71) {
			t.Fatalf("id %q", req.ID)
		}
	})
}
