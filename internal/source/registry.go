package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Environment variables that supply registry credentials when the flags do not.
const (
	EnvUsername = "CUSTOMS_USERNAME"
	EnvPassword = "CUSTOMS_PASSWORD"
)

// RemoteOptions returns go-containerregistry options for talking to a
// registry: credentials from the options, the environment, or the Docker
// config and its credential helpers; TLS verification unless Insecure;
// plain HTTP only when PlainHTTP is set.
func (o *Options) RemoteOptions(ctx context.Context) []remote.Option {
	opts, _ := o.remoteOptions(ctx)
	return opts
}

// remoteOptions also returns the transport guard, which tells whether
// plain HTTP was used.
func (o *Options) remoteOptions(ctx context.Context) ([]remote.Option, *schemeGuard) {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithUserAgent("customs")}
	user, pass := o.Username, o.Password
	if user == "" {
		user = os.Getenv(EnvUsername)
	}
	if pass == "" {
		pass = os.Getenv(EnvPassword)
	}
	switch {
	case o.RegistryToken != "":
		opts = append(opts, remote.WithAuth(&authn.Bearer{Token: o.RegistryToken}))
	case user != "" || pass != "":
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	default:
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	var base http.RoundTripper = o.Transport
	if base == nil {
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		if o.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // explicit --insecure opt-in
		}
		base = tr
	}
	guard := &schemeGuard{base: base, allowPlain: o.PlainHTTP}
	opts = append(opts, remote.WithTransport(guard))
	if o.Platform != nil {
		opts = append(opts, remote.WithPlatform(*o.Platform))
	}
	return opts, guard
}

// schemeGuard refuses plain HTTP unless it was asked for, and remembers
// whether it was used. go-containerregistry otherwise falls back to plain
// HTTP on its own for localhost and private addresses.
type schemeGuard struct {
	base       http.RoundTripper
	allowPlain bool
	plain      atomic.Bool
}

func (g *schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		if !g.allowPlain {
			return nil, fmt.Errorf("refusing plain HTTP to %s (pass --plain-http to allow it)", r.URL.Host)
		}
		g.plain.Store(true)
	}
	res, err := g.base.RoundTrip(r)
	if err == nil && strings.Contains(r.URL.Path, "/manifests/") {
		// go-containerregistry reads up to 100 MiB of a manifest.
		res.Body = &boundedBody{ReadCloser: res.Body, left: maxJSONBytes, what: "registry " + r.URL.Host + ": manifest " + r.URL.Path}
	}
	return res, err
}

// boundedBody fails once more than left bytes have been read: a manifest
// larger than the scanner reads.
type boundedBody struct {
	io.ReadCloser
	left int64
	what string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%s is larger than %d bytes: %w", b.what, maxJSONBytes, ErrTooLarge)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, fmt.Errorf("%s is larger than %d bytes: %w", b.what, maxJSONBytes, ErrTooLarge)
	}
	return n, err
}

// NameOptions returns the reference-parsing options (plain HTTP only when asked).
func (o *Options) NameOptions() []name.Option {
	if o.PlainHTTP {
		return []name.Option{name.Insecure}
	}
	return nil
}

// openRegistry pulls the manifest and configuration of ref from its
// registry; layers are streamed later, each verified against its digest.
func openRegistry(ctx context.Context, input string, o *Options) (Image, error) {
	ref, err := name.ParseReference(input, o.NameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("not a valid image reference: %w", err)
	}
	opts, guard := o.remoteOptions(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, explainRegistryError(ref, err)
	}
	// An index resolves to the image of the platform asked for (default
	// linux/amd64).
	img, err := desc.Image()
	if err != nil {
		return nil, explainRegistryError(ref, err)
	}
	ra, err := FromV1(img, input, KindRegistry, ref.Name())
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		ra.Meta().IndexDigest = desc.Digest.String()
	}
	ra.Meta().PlainHTTP = guard.plain.Load()
	return ra, nil
}

// explainRegistryError turns transport errors into messages that say what
// to do: authentication, TLS and not-found problems are told apart.
func explainRegistryError(ref name.Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("registry %s refused access to %s (HTTP %d): log in with docker login, or pass --username/--password (or %s/%s): %w",
				ref.Context().RegistryStr(), ref.Context().RepositoryStr(), terr.StatusCode, EnvUsername, EnvPassword, err)
		case http.StatusNotFound:
			return fmt.Errorf("registry %s has no image %s: %w", ref.Context().RegistryStr(), ref, err)
		}
	}
	var cerr interface{ Unwrap() error }
	if errors.As(err, &cerr) && isTLSError(err) {
		return fmt.Errorf("TLS to registry %s failed (pass --insecure to skip certificate verification, or --plain-http for a plain HTTP registry): %w", ref.Context().RegistryStr(), err)
	}
	return fmt.Errorf("pulling %s from %s: %w", ref, ref.Context().RegistryStr(), err)
}

func isTLSError(err error) bool {
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	return errors.As(err, &cv) || errors.As(err, &rh)
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}
