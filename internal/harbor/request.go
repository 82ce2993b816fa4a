package harbor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// Errors of requests, by the status the spec gives them.
var (
	// ErrBadRequest: not JSON, or JSON of the wrong types (400).
	ErrBadRequest = errors.New("bad request")
	// ErrInvalid: a field's value is refused (422).
	ErrInvalid = errors.New("invalid field")
	// ErrUnsupported: the adapter cannot produce or scan this (501).
	ErrUnsupported = errors.New("not supported")
)

// MaxRequest bounds the body of a scan request.
const MaxRequest = 64 << 10

// Bounds of a scan request's fields.
const (
	maxAuthorization = 8 << 10
	maxField         = 1024
	maxCapabilities  = 8
)

// ScanRequest is the body of POST /api/v1/scan.
type ScanRequest struct {
	Registry            Registry            `json:"registry"`
	Artifact            Artifact            `json:"artifact"`
	EnabledCapabilities []EnabledCapability `json:"enabled_capabilities,omitempty"`
}

// Registry says where the artifact is and how to authenticate.
type Registry struct {
	// URL is the registry's base URL (https://core.harbor.domain).
	URL string `json:"url"`
	// Authorization is the Authorization header for the registry:
	// "Basic BASE64" (a robot account) or "Bearer TOKEN".
	Authorization string `json:"authorization,omitempty"`
}

// Artifact is what to scan.
type Artifact struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Tag        string `json:"tag,omitempty"`
	MimeType   string `json:"mime_type,omitempty"`
}

// EnabledCapability narrows what a scan request asks for.
type EnabledCapability struct {
	Type              string         `json:"type"`
	ProducesMimeTypes []string       `json:"produces_mime_types,omitempty"`
	Parameters        *SbomParameter `json:"parameters,omitempty"`
}

// SbomParameter lists the SBOM formats asked for.
type SbomParameter struct {
	SbomMediaTypes []string `json:"sbom_media_types,omitempty"`
}

// Target is a checked scan request: the image to pull and how.
type Target struct {
	// Image is REGISTRY/REPOSITORY@DIGEST.
	Image string
	// PlainHTTP is true for an http:// registry URL.
	PlainHTTP bool
	// Username and Password (Basic), or Token (Bearer); all empty
	// without authorization.
	Username, Password, Token string
	Artifact                  Artifact
}

// HasCredentials reports whether the request carried credentials.
func (t *Target) HasCredentials() bool { return t.Username != "" || t.Password != "" || t.Token != "" }

// ParseScanRequest reads and checks a scan request body: at most
// MaxRequest bytes, one JSON object of the spec's shape (ErrBadRequest
// otherwise), an http(s) registry URL with no path, an authorization of
// scheme Basic (user:password) or Bearer, a valid repository and digest
// and an optional tag (ErrInvalid otherwise), an artifact MIME type and
// capabilities this adapter handles (ErrUnsupported otherwise).
func ParseScanRequest(body []byte) (*Target, error) {
	if len(body) > MaxRequest {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrBadRequest, MaxRequest)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: the body is not a JSON object", ErrBadRequest)
	}
	var req ScanRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	t := &Target{Artifact: req.Artifact}
	host, plain, err := registryHost(req.Registry.URL)
	if err != nil {
		return nil, err
	}
	t.PlainHTTP = plain
	if t.Username, t.Password, t.Token, err = parseAuthorization(req.Registry.Authorization); err != nil {
		return nil, err
	}
	a := req.Artifact
	if len(a.Repository) > maxField || len(a.Tag) > maxField || len(a.MimeType) > maxField {
		return nil, fmt.Errorf("%w: an artifact field is longer than %d bytes", ErrInvalid, maxField)
	}
	repo, err := name.NewRepository(host+"/"+a.Repository, name.StrictValidation)
	if err != nil || a.Repository == "" || strings.HasPrefix(a.Repository, "/") {
		return nil, fmt.Errorf("%w: artifact.repository %q is not a repository name", ErrInvalid, a.Repository)
	}
	if d, err := digest.Parse(a.Digest); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("%w: artifact.digest %q: want sha256:<64 hex digits>", ErrInvalid, a.Digest)
	}
	if a.Tag != "" {
		if _, err := name.NewTag(repo.Name()+":"+a.Tag, name.StrictValidation); err != nil {
			return nil, fmt.Errorf("%w: artifact.tag %q is not a tag", ErrInvalid, a.Tag)
		}
	}
	switch a.MimeType {
	case "", MimeOCIManifest, MimeDockerManifest:
	default:
		return nil, fmt.Errorf("%w: artifact.mime_type %q: this adapter scans %s and %s", ErrUnsupported, a.MimeType, MimeOCIManifest, MimeDockerManifest)
	}
	if err := checkCapabilities(req.EnabledCapabilities); err != nil {
		return nil, err
	}
	t.Image = repo.Name() + "@" + a.Digest
	return t, nil
}

// registryHost reads the registry URL: http or https, a host and
// optional port, no path, query or user.
func registryHost(raw string) (host string, plain bool, err error) {
	if len(raw) > maxField {
		return "", false, fmt.Errorf("%w: registry.url is longer than %d bytes", ErrInvalid, maxField)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("%w: registry.url %q: want http(s)://HOST[:PORT]", ErrInvalid, clip(raw))
	}
	reg, err := name.NewRegistry(u.Host, name.StrictValidation)
	if err != nil || reg.RegistryStr() != u.Host {
		return "", false, fmt.Errorf("%w: registry.url %q: the host is not a registry address", ErrInvalid, clip(raw))
	}
	return reg.RegistryStr(), u.Scheme == "http", nil
}

// parseAuthorization reads an Authorization header value.
func parseAuthorization(h string) (user, pass, token string, err error) {
	if h == "" {
		return "", "", "", nil
	}
	if len(h) > maxAuthorization {
		return "", "", "", fmt.Errorf("%w: registry.authorization is longer than %d bytes", ErrInvalid, maxAuthorization)
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(h), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, derr := base64.StdEncoding.DecodeString(cred)
		if derr != nil {
			return "", "", "", fmt.Errorf("%w: registry.authorization: Basic credentials are not base64", ErrInvalid)
		}
		u, p, ok := strings.Cut(string(raw), ":")
		if !ok || u == "" || strings.ContainsAny(u+p, "\r\n\x00") {
			return "", "", "", fmt.Errorf("%w: registry.authorization: Basic credentials are not user:password", ErrInvalid)
		}
		return u, p, "", nil
	case strings.EqualFold(scheme, "Bearer"):
		if cred == "" || strings.ContainsAny(cred, " \t\r\n\x00") {
			return "", "", "", fmt.Errorf("%w: registry.authorization: an empty or malformed Bearer token", ErrInvalid)
		}
		return "", "", cred, nil
	}
	return "", "", "", fmt.Errorf("%w: registry.authorization: want Basic or Bearer credentials", ErrInvalid)
}

// checkCapabilities refuses capabilities or report types this adapter
// does not produce.
func checkCapabilities(caps []EnabledCapability) error {
	if len(caps) > maxCapabilities {
		return fmt.Errorf("%w: more than %d enabled_capabilities", ErrInvalid, maxCapabilities)
	}
	meta := NewMetadata(Info{})
	for _, c := range caps {
		var produced []string
		for _, mc := range meta.Capabilities {
			if mc.Type == c.Type {
				produced = mc.ProducesMimeTypes
			}
		}
		if produced == nil {
			return fmt.Errorf("%w: capability %q (this adapter has vulnerability and sbom)", ErrUnsupported, clip(c.Type))
		}
		for _, mt := range c.ProducesMimeTypes {
			if !containsMime(produced, mt) {
				return fmt.Errorf("%w: capability %s does not produce %q", ErrUnsupported, c.Type, clip(mt))
			}
		}
		if c.Parameters != nil {
			for _, m := range c.Parameters.SbomMediaTypes {
				if m != MediaSPDX && m != MediaCycloneDX {
					return fmt.Errorf("%w: SBOM format %q (want %s or %s)", ErrUnsupported, clip(m), MediaSPDX, MediaCycloneDX)
				}
			}
		}
	}
	return nil
}

// containsMime reports whether list holds mt, comparing media types and
// parameters, not spelling.
func containsMime(list []string, mt string) bool {
	want, wp, err := parseMime(mt)
	if err != nil {
		return false
	}
	for _, l := range list {
		if got, gp, err := parseMime(l); err == nil && got == want && gp == wp {
			return true
		}
	}
	return false
}

func parseMime(s string) (string, string, error) {
	mt, params, err := mime.ParseMediaType(s)
	return mt, params["version"], err
}
