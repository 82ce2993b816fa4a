// Package webhook reads the push notifications registries send (CNCF
// Distribution's event envelopes, Harbor's webhook payloads) and delivers
// customs' own signed notifications to user-configured URLs.
//
// Every notification body is untrusted: a parser refuses a body larger than
// MaxBody or with more than MaxEvents entries, and checks the registry host,
// repository name, digest and tag of each push before returning it.
//
// A parser's result is one of two kinds. The body is refused as a whole:
// the pushes are nil and errors.Is(err, ErrRejected). Or the body is
// accepted: the pushes are every valid manifest push it holds, in order, and
// err, when not nil, joins one *SkipError for each push entry that was dropped
// because one of its fields is invalid (Skips lists them). Entries that are
// not manifest pushes (pulls, deletes, mounts, blob uploads, other event
// types) are ignored silently: they are not errors.
package webhook

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// MaxBody is the largest notification body a parser accepts, in bytes.
// Servers should read request bodies through http.MaxBytesReader with it.
const MaxBody = 1 << 20

// MaxEvents is the largest number of events (Distribution) or resources
// (Harbor) one body may hold.
const MaxEvents = 1000

// ErrRejected marks an error that refuses a whole notification body: too
// large, too many entries, or not the expected JSON document.
var ErrRejected = errors.New("webhook: notification rejected")

// Push is one manifest pushed to a registry.
type Push struct {
	// Registry is the registry's host, with its port when it has one,
	// in lower case.
	Registry string
	// Repository is the repository path inside the registry, without the
	// host.
	Repository string
	// Digest is the manifest's digest, "algorithm:encoded".
	Digest string
	// Tag is the tag the manifest was pushed under, "" when it was pushed
	// by digest.
	Tag string
	// MediaType is the manifest's media type; "" when the notification
	// does not say (Harbor).
	MediaType string
	// EventID identifies the notification event, so that a receiver can
	// recognise a delivery it has already seen: Distribution's event id;
	// for Harbor, whose payloads carry none, "harbor-" and a hash of the
	// payload's time, operator and resource, the same when Harbor retries.
	EventID string
}

// Reference returns the push as a pullable image reference:
// registry/repository@digest.
func (p Push) Reference() string {
	return p.Registry + "/" + p.Repository + "@" + p.Digest
}

// SkipError tells why one push entry of an accepted body was dropped.
type SkipError struct {
	// Index is the entry's position in the body's events or resources,
	// from 0.
	Index int
	// EventID is the entry's event id, when it has one.
	EventID string
	// Reason says which field is invalid and why.
	Reason string
}

// Error implements error.
func (e *SkipError) Error() string {
	if e.EventID != "" {
		return fmt.Sprintf("webhook: entry %d (event %q) skipped: %s", e.Index, e.EventID, e.Reason)
	}
	return fmt.Sprintf("webhook: entry %d skipped: %s", e.Index, e.Reason)
}

// Skips returns the *SkipError values err holds, in order: err itself, or
// the errors it joins.
func Skips(err error) []*SkipError {
	var out []*SkipError
	if s, ok := err.(*SkipError); ok {
		return append(out, s)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Skips(e)...)
		}
	}
	return out
}

// rejectf returns an error wrapping ErrRejected.
func rejectf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRejected}, args...)...)
}

// isManifestType reports whether mediaType is an image manifest or index
// that customs scans: Docker schema 2 manifest or manifest list, OCI image
// manifest or index. Parameters (";charset=...") are ignored.
func isManifestType(mediaType string) bool {
	mt, _, _ := strings.Cut(mediaType, ";")
	switch types.MediaType(strings.TrimSpace(mt)) {
	case types.DockerManifestSchema2, types.DockerManifestList, types.OCIManifestSchema1, types.OCIImageIndex:
		return true
	}
	return false
}

// hostPattern matches a whole registry host: a domain name, IPv4 or
// bracketed IPv6 address, optionally with a port.
var hostPattern = regexp.MustCompile(`^(?:` + reference.DomainRegexp.String() + `)$`)

// validate checks p's registry host, repository, digest and tag, and
// returns p with the host in lower case and the media type without
// parameters, or the reason it is invalid.
func validate(p Push) (Push, string) {
	p.Registry = strings.ToLower(p.Registry)
	if p.Registry == "" {
		return p, "no registry host"
	}
	if !hostPattern.MatchString(p.Registry) {
		return p, fmt.Sprintf("invalid registry host %q", clip(p.Registry))
	}
	if !strings.ContainsAny(p.Registry, ".:") && p.Registry != "localhost" {
		// Image references read such a first component as a Docker Hub
		// namespace, so the push could not be named.
		return p, fmt.Sprintf("registry host %q has neither a dot nor a port", clip(p.Registry))
	}
	named, err := reference.WithName(p.Registry + "/" + p.Repository)
	if err != nil || reference.Domain(named) != p.Registry || reference.Path(named) != p.Repository {
		return p, fmt.Sprintf("invalid repository name %q", clip(p.Repository))
	}
	d, err := digest.Parse(p.Digest)
	if err != nil {
		return p, fmt.Sprintf("invalid digest %q: %v", clip(p.Digest), err)
	}
	if _, err := reference.WithDigest(named, d); err != nil {
		return p, fmt.Sprintf("invalid digest %q: %v", clip(p.Digest), err)
	}
	if p.Tag != "" {
		if _, err := reference.WithTag(named, p.Tag); err != nil {
			return p, fmt.Sprintf("invalid tag %q", clip(p.Tag))
		}
	}
	mt, _, _ := strings.Cut(p.MediaType, ";")
	p.MediaType = strings.TrimSpace(mt)
	return p, ""
}

// clip shortens an untrusted value quoted in an error message.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
