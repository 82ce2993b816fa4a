package registry

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-scanner/customs/internal/model"
)

// PlainHTTPFinding reports an image pulled over plain HTTP: its digests
// were checked, but anything fetched by tag could have been swapped in
// transit.
func PlainHTTPFinding(ref string) model.Finding {
	return model.Finding{Class: model.ClassIntegrity, ID: "integrity-plain-http-pull", Severity: model.Medium,
		Title:       "Image pulled over plain HTTP",
		Description: "Every blob was checked against its digest, but a tag resolved over plain HTTP can be pointed at another image by anyone in the network path. Serve the registry over TLS, or pull by digest.",
		Location:    ref}
}

// RequireDigest refuses a reference that names a tag but no digest
// (--require-digest): only a digest pins the exact image.
func RequireDigest(input string, opts ...name.Option) error {
	ref, err := name.ParseReference(input, opts...)
	if err != nil {
		return fmt.Errorf("--require-digest: %q is not an image reference: %w", input, err)
	}
	if _, ok := ref.(name.Digest); !ok {
		return fmt.Errorf("--require-digest: %s names a tag, not a digest; pin it as %s@sha256:...", input, ref.Context().Name())
	}
	return nil
}
