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
