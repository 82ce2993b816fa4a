package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/customs-scanner/customs/internal/registry/regapi"
)

// maxBody bounds what a probe reads of any response.
const maxBody = 64 << 10

// Probe records one request an audit sent and what came back, so a user
// can see exactly what touched the registry.
type Probe struct {
	Name    string `json:"name"`
	Request string `json:"request"`
	Result  string `json:"result"`
}

// client sends the audit's requests and logs each one.
type client struct {
	http    *http.Client
	mu      sync.Mutex
	probes  []Probe
	banners map[string]string // header name -> value seen
}

func newClient(base http.RoundTripper, timeout time.Duration) *client {
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// The audit reports certificate problems itself; its API probes
		// must still reach a registry whose certificate is bad.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // auditing, no content is trusted
		base = tr
	}
	return &client{
		http: &http.Client{Transport: base, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		banners: map[string]string{},
	}
}

// response is the part of an HTTP response the probes look at.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request without a body. auth is a full Authorization
// header value or "".
func (c *client) do(ctx context.Context, probe, method, u, auth string, header map[string]string) (*response, error) {
	return c.send(ctx, probe, method, u, auth, header, nil)
}

// send sends one request with body (none when nil).
func (c *client) send(ctx context.Context, probe, method, u, auth string, header map[string]string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "customs-registry-audit")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	shown := method + " " + redactURL(u)
	if body != nil {
		shown += fmt.Sprintf(" (%d-byte body)", len(body))
	}
	switch {
	case strings.HasPrefix(auth, "Basic "):
		req.Header.Set("Authorization", auth)
		shown += " (basic credentials)"
	case auth != "":
		req.Header.Set("Authorization", auth)
		shown += " (bearer token)"
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.log(probe, shown, "error: "+err.Error())
		return nil, err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.log(probe, shown, resp.Status)
	c.mu.Lock()
	for _, h := range []string{"Server", "X-Powered-By"} {
		if v := resp.Header.Get(h); v != "" {
			c.banners[h] = v
		}
	}
	c.mu.Unlock()
	return &response{status: resp.StatusCode, header: resp.Header, body: got}, nil
}

func (c *client) log(name, req, res string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probes = append(c.probes, Probe{Name: name, Request: req, Result: res})
}

// redactURL hides query values that could carry secrets (tokens, passwords).
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.RawQuery == "" {
		return u
	}
	q := p.Query()
	for k := range q {
		if k != "service" && k != "scope" && k != "n" {
			q.Set(k, "REDACTED")
		}
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// token asks the challenge's realm for a bearer token for scope, with
// basic credentials when auth is set. It returns "" when none is issued.
func (c *client) token(ctx context.Context, probe string, ch regapi.Challenge, scope, auth string) string {
	realm := ch.Params["realm"]
	if ch.Scheme != "bearer" || realm == "" {
		return ""
	}
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	// A hostile registry must not turn the audit against link-local
	// services (cloud metadata): such realms are not followed.
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Unmap().IsLinkLocalUnicast() {
		c.log(probe, "GET "+redactURL(realm), "not sent: the realm is a link-local address")
		return ""
	}
	q := u.Query()
	if s := ch.Params["service"]; s != "" {
		q.Set("service", s)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	u.RawQuery = q.Encode()
	resp, err := c.do(ctx, probe, http.MethodGet, u.String(), auth, nil)
	if err != nil || resp.status != http.StatusOK {
		return ""
	}
	return regapi.ParseToken(resp.body)
}

func bearer(tok string) string {
	if tok == "" {
		return ""
	}
	return "Bearer " + tok
}

// isRegistryAPI reports whether a /v2/ response comes from a registry.
func isRegistryAPI(r *response) bool {
	if r == nil {
		return false
	}
	if r.header.Get("Docker-Distribution-Api-Version") != "" {
		return true
	}
	return r.status == http.StatusOK && strings.TrimSpace(string(r.body)) == "{}"
}

func joinURL(base, p string) string { return strings.TrimSuffix(base, "/") + p }
