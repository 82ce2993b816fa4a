// Package registry audits container registries and keeps registry-level
// integrity facts: anonymous access, plaintext, TLS, push and delete,
// default credentials, exposure and information leaks (Audit); which digest
// each tag pointed to (DriftStore); repository names that imitate
// well-known images (LookAlike); and scans of whole registries through the
// image pipeline (Scan).
package registry

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/registry/regapi"
)

// AuditOptions configure an audit. The zero value runs the read-only
// probes with their defaults.
type AuditOptions struct {
	// ProbePush asks to put an unparsable manifest in a throwaway
	// repository, which tells whether pushes are authorized and stores
	// nothing (--probe-push).
	ProbePush bool
	// ProbeDelete asks to delete a manifest digest that cannot exist
	// (--probe-delete).
	ProbeDelete bool
	// ProbeCredentials tries the built-in default credentials
	// (--probe-credentials).
	ProbeCredentials bool
	// Repositories are probed for anonymous pull besides (or, when the
	// catalog is closed, instead of) those the catalog lists.
	Repositories []string
	// MaxRepositories bounds how many catalog repositories are probed
	// (default 3).
	MaxRepositories int
	// CredentialInterval is the pause between default-credential
	// attempts (default 1s).
	CredentialInterval time.Duration
	// RootCAs are the authorities the registry's certificate should chain
	// to (nil: the system's).
	RootCAs *x509.CertPool
	// Transport carries the HTTP probes (default: one that does not
	// verify certificates, since the TLS probe reports on them).
	Transport http.RoundTripper
	// Resolve looks up the registry host's addresses (default: the system
	// resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// ExpiryWarning is how close to expiry a certificate is reported
	// (default 30 days).
	ExpiryWarning time.Duration
}

func (o AuditOptions) withDefaults() AuditOptions {
	if o.MaxRepositories <= 0 {
		o.MaxRepositories = 3
	}
	if o.CredentialInterval == 0 {
		o.CredentialInterval = time.Second
	}
	if o.Resolve == nil {
		o.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = 30 * 24 * time.Hour
	}
	return o
}

// AuditResult is the outcome of an audit.
type AuditResult struct {
	// Target is the registry address as given; Host is host[:port].
	Target string `json:"target"`
	Host   string `json:"host"`
	// API is the base URL where the registry API answered.
	API      string          `json:"api"`
	Findings []model.Finding `json:"findings"`
	// Probes lists every request sent, in order.
	Probes []Probe `json:"probes"`
}

// DefaultCredentials are the vendor defaults --probe-credentials tries.
var DefaultCredentials = []struct{ User, Password string }{
	{"admin", "Harbor12345"}, // Harbor
	{"admin", "admin123"},    // Nexus Repository 3 (before first login)
	{"admin", "password"},    // JFrog Artifactory
	{"admin", "admin"},
	{"docker", "docker"},
	{"registry", "registry"},
	{"testuser", "testpassword"}, // the reference registry's htpasswd example
}

// auditor carries the state of one audit.
type auditor struct {
	opt   AuditOptions
	c     *client
	api   string // base URL of the registry API
	plain bool   // api is plain HTTP
	// ch is the challenge /v2/ answered with when anonymous.
	ch       regapi.Challenge
	repos    []string
	found    []model.Finding
	goodCred string // Authorization value of a default credential that works
}

// Audit probes the registry at target ("https://host:port", "host:port",
// "http://host"). It returns an error only when no registry API answers.
func Audit(ctx context.Context, target string, opt AuditOptions) (*AuditResult, error) {
	opt = opt.withDefaults()
	scheme, host, port, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	a := &auditor{opt: opt, c: newClient(opt.Transport, opt.Timeout)}
	hostport := host
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	res := &AuditResult{Target: target, Host: hostport}

	var tlsErr error
	if scheme != "http" {
		tp := net.JoinHostPort(host, portOr(port, "443"))
		tr, err := a.probeTLS(ctx, host, tp)
		tlsErr = err
		if tr.speaksTLS {
			a.api = "https://" + tp
			a.found = append(a.found, tr.findings...)
		}
	}
	// Plain HTTP: the given port, or 80 when none is given.
	plainBase := "http://" + net.JoinHostPort(host, portOr(port, "80"))
	var plainResp *response
	if scheme != "https" || a.api == "" || port == "" {
		plainResp, _ = a.c.do(ctx, "plaintext", http.MethodGet, plainBase+"/v2/", "", nil)
	}
	plainAPI := isRegistryAPI(plainResp)
	if a.api == "" {
		if !plainAPI {
			if tlsErr != nil {
				return nil, fmt.Errorf("no registry API at %s: %w", target, tlsErr)
			}
			return nil, fmt.Errorf("no registry API answers at %s (neither HTTPS nor plain HTTP /v2/)", target)
		}
		a.api, a.plain = plainBase, true
	}
	res.API = a.api

	a.probeAPI(ctx)
	a.probeRepositories(ctx)
	if opt.ProbeCredentials {
		a.probeCredentials(ctx)
	}
	pushed := false
	if opt.ProbePush {
		pushed = a.probePush(ctx)
	}
	if opt.ProbeDelete {
		a.probeDelete(ctx)
	}
	a.probeLeaks(ctx)
	if plainAPI {
		a.found = append(a.found, plaintextFinding(plainBase, plainResp, pushed && a.plain))
	}
	if f := a.exposure(ctx, host); f != nil {
		a.found = append(a.found, *f)
	}
	for i := range a.found {
		a.found[i].Extra = withKey(a.found[i].Extra, "registry", hostport)
	}
	sort.SliceStable(a.found, func(i, j int) bool {
		if a.found[i].Severity.Rank() != a.found[j].Severity.Rank() {
			return a.found[i].Severity.Rank() > a.found[j].Severity.Rank()
		}
		return a.found[i].ID < a.found[j].ID
	})
	res.Findings = a.found
	res.Probes = a.c.probes
	return res, nil
}

// parseTarget splits "scheme://host:port/..." into its parts; the scheme
// is "" when none is given.
func parseTarget(target string) (scheme, host, port string, err error) {
	t := strings.TrimSpace(target)
	if t == "" {
		return "", "", "", fmt.Errorf("empty registry address")
	}
	if !strings.Contains(t, "://") {
		t = "none://" + t
	}
	u, err := url.Parse(t)
	if err != nil || u.Hostname() == "" {
		return "", "", "", fmt.Errorf("registry address %q: want host[:port], optionally with https:// or http://", target)
	}
	switch u.Scheme {
	case "none":
		scheme = ""
	case "http", "https":
		scheme = u.Scheme
	default:
		return "", "", "", fmt.Errorf("registry address %q: scheme must be https or http", target)
	}
	return scheme, u.Hostname(), u.Port(), nil
}

func portOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// probeAPI asks /v2/ and /v2/_catalog without credentials (with an
// anonymous token when the realm hands one out).
func (a *auditor) probeAPI(ctx context.Context) {
	r, err := a.c.do(ctx, "anonymous-api", http.MethodGet, a.api+"/v2/", "", nil)
	if err != nil {
		return
	}
	a.ch = regapi.ParseChallenge(r.header.Get("WWW-Authenticate"))
	auth := ""
	via := ""
	if r.status == http.StatusUnauthorized && a.ch.Scheme == "bearer" {
		if tok := a.c.token(ctx, "anonymous-api", a.ch, "", ""); tok != "" {
			r2, err := a.c.do(ctx, "anonymous-api", http.MethodGet, a.api+"/v2/", bearer(tok), nil)
			if err == nil && r2.status == http.StatusOK {
				r, via = r2, " with an anonymous token from "+a.ch.Params["realm"]
			}
		}
	}
	if r.status == http.StatusOK {
		a.found = append(a.found, finding("registry-anonymous-api", model.Medium, "Registry API answers without credentials"+via,
			"Anyone who can reach the registry can use its API. Require authentication unless the registry is meant to be public.", a.api+"/v2/", nil))
	}
	if a.ch.Scheme == "bearer" {
		auth = bearer(a.c.token(ctx, "anonymous-catalog", a.ch, "registry:catalog:*", ""))
	}
	cr, err := a.c.do(ctx, "anonymous-catalog", http.MethodGet, a.api+"/v2/_catalog?n=100", auth, nil)
	if err != nil || cr.status != http.StatusOK {
		return
	}
	var cat struct {
		Repositories []string `json:"repositories"`
	}
	if json.Unmarshal(cr.body, &cat) != nil || cat.Repositories == nil {
		return
	}
	a.repos = cat.Repositories
	a.found = append(a.found, finding("registry-anonymous-catalog", model.High,
		fmt.Sprintf("Registry lists its repositories without credentials (%d in the first page)", len(cat.Repositories)),
		"The catalog tells anyone which images exist. Require authentication for /v2/_catalog.", a.api+"/v2/_catalog",
		map[string]string{"repositories": strings.Join(firstN(cat.Repositories, 10), ",")}))
}

// probeRepositories reads tag lists and manifests anonymously: metadata
// only, no layer is downloaded.
func (a *auditor) probeRepositories(ctx context.Context) {
	repos := append(firstN(a.repos, a.opt.MaxRepositories), a.opt.Repositories...)
	var tagged, pulled []string
	via := ""
	for _, repo := range dedupe(repos) {
		auth := ""
		if a.ch.Scheme == "bearer" {
			auth = bearer(a.c.token(ctx, "anonymous-pull", a.ch, "repository:"+repo+":pull", ""))
		}
		r, err := a.c.do(ctx, "anonymous-tags", http.MethodGet, a.api+"/v2/"+repo+"/tags/list?n=10", auth, nil)
		tag := "latest"
		if err == nil && r.status == http.StatusOK {
			tagged = append(tagged, repo)
			var tl struct {
				Tags []string `json:"tags"`
			}
			if json.Unmarshal(r.body, &tl) == nil && len(tl.Tags) > 0 {
				tag = tl.Tags[0]
			}
		}
		m, err := a.c.do(ctx, "anonymous-pull", http.MethodHead, a.api+"/v2/"+repo+"/manifests/"+tag, auth, map[string]string{"Accept": manifestAccept})
		if err == nil && m.status == http.StatusOK {
			pulled = append(pulled, repo+":"+tag)
			if auth != "" {
				via = " (with an anonymous token from " + a.ch.Params["realm"] + ")"
			}
		}
	}
	if len(tagged) > 0 {
		a.found = append(a.found, finding("registry-anonymous-tags", model.Medium, "Tag lists are readable without credentials"+via,
			"Anyone can see which versions of these images exist.", a.api+"/v2/"+tagged[0]+"/tags/list",
			map[string]string{"repositories": strings.Join(tagged, ",")}))
	}
	if len(pulled) > 0 {
		a.found = append(a.found, finding("registry-anonymous-pull", model.High, "Images can be pulled without credentials"+via,
			"Anyone who can reach the registry can download these images and everything inside them (code, configuration, secrets). Require authentication for pulls unless the images are meant to be public.",
			a.api+"/v2/"+pulled[0], map[string]string{"images": strings.Join(pulled, ",")}))
	}
}

const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// probeCredentials tries each default credential, one at a time, with a
// pause between attempts.
func (a *auditor) probeCredentials(ctx context.Context) {
	check := func(user, pass string) bool {
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		switch a.ch.Scheme {
		case "basic":
			r, err := a.c.do(ctx, "default-credentials", http.MethodGet, a.api+"/v2/", basic, nil)
			return err == nil && r.status == http.StatusOK
		case "bearer":
			return a.c.token(ctx, "default-credentials", a.ch, "", basic) != ""
		}
		return false
	}
	if a.ch.Scheme == "" {
		a.c.log("default-credentials", "(none sent)", "the registry asks for no credentials")
		return
	}
	if a.ch.Scheme == "bearer" && check("customs-control-"+randomHex(4), randomHex(12)) {
		a.c.log("default-credentials", "(stopped)", "the token realm accepts any credentials, so a default one cannot be told apart")
		return
	}
	for i, cred := range DefaultCredentials {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(a.opt.CredentialInterval):
			}
		}
		if check(cred.User, cred.Password) {
			a.goodCred = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred.User+":"+cred.Password))
			a.found = append(a.found, finding("registry-default-credentials", model.Critical,
				"Registry accepts the default credentials of user "+cred.User,
				"Anyone can log in with a published default password. Change it now and review what was pushed.", a.api+"/v2/",
				map[string]string{"user": cred.User, "password": redact(cred.Password)}))
			return
		}
	}
}

// pushProbeBody is what the push probe sends as a manifest: not JSON, so
// no registry can store it.
const pushProbeBody = "customs registry audit: push permission probe, not a manifest\n"

// pushAllowedCodes are the error codes a registry answers the probe's
// manifest with once it has authorized the push: it looked at the body.
var pushAllowedCodes = []string{"MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "DIGEST_INVALID", "TAG_INVALID", "SIZE_INVALID"}

// probePush asks to put a manifest that is not JSON under a throwaway
// repository and tag, anonymously and with a default credential that
// worked. Registries authorize a push before they read its body: a
// refused push is answered 401/403 (405 when read-only), an authorized
// one 400 MANIFEST_INVALID, since the body cannot be parsed. Nothing is
// stored either way: no upload session is opened, no blob, manifest, tag
// or repository written. It reports whether a push was authorized.
func (a *auditor) probePush(ctx context.Context) bool {
	repo := "customs-audit-probe-" + randomHex(6)
	u := a.api + "/v2/" + repo + "/manifests/customs-audit-probe"
	try := func(auth string) bool {
		if a.ch.Scheme == "bearer" {
			auth = bearer(a.c.token(ctx, "push", a.ch, "repository:"+repo+":push,pull", auth))
		}
		r, err := a.c.send(ctx, "push", http.MethodPut, u, auth,
			map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, []byte(pushProbeBody))
		if err != nil {
			return false
		}
		switch r.status {
		case http.StatusCreated, http.StatusAccepted, http.StatusOK:
			// No registry should take this body; if one did, say so.
			a.c.log("push", "PUT "+u, "the registry stored a manifest that is not JSON: delete "+repo+" by hand")
			return true
		case http.StatusBadRequest:
			for _, c := range regapi.ErrorCodes(r.body) {
				if slices.Contains(pushAllowedCodes, c) {
					return true
				}
			}
		}
		return false
	}
	accepted := false
	if try("") {
		accepted = true
		a.found = append(a.found, finding("registry-anonymous-push", model.Critical, "Registry accepts pushes without credentials",
			"Anyone who can reach the registry can replace images with their own. Require authentication for pushes now and check the images for tampering.",
			u, nil))
	}
	if a.goodCred != "" && try(a.goodCred) {
		accepted = true
		a.found = append(a.found, finding("registry-credential-push", model.Critical, "Registry accepts pushes with default credentials",
			"Anyone who knows the published default password can replace images. Change the password and check the images for tampering.",
			u, nil))
	}
	return accepted
}

// probeDelete asks to delete a manifest whose digest cannot exist (all
// zeros): a registry with deletes disabled answers 405, one with deletes
// enabled looks the digest up and answers 404 (or 202).
func (a *auditor) probeDelete(ctx context.Context) {
	repo := "customs-audit-probe-" + randomHex(6)
	if len(a.repos) > 0 {
		repo = a.repos[0]
	}
	u := a.api + "/v2/" + repo + "/manifests/sha256:" + strings.Repeat("0", 64)
	try := func(auth string) bool {
		if a.ch.Scheme == "bearer" {
			auth = bearer(a.c.token(ctx, "delete", a.ch, "repository:"+repo+":delete", auth))
		}
		r, err := a.c.do(ctx, "delete", http.MethodDelete, u, auth, nil)
		return err == nil && (r.status == http.StatusAccepted || r.status == http.StatusNotFound)
	}
	switch {
	case try(""):
		a.found = append(a.found, finding("registry-anonymous-delete", model.Critical, "Registry accepts deletes without credentials",
			"Anyone who can reach the registry can delete images. Require authentication, or disable deletes.", u, nil))
	case a.goodCred != "" && try(a.goodCred):
		a.found = append(a.found, finding("registry-credential-delete", model.Critical, "Registry accepts deletes with default credentials",
			"Anyone who knows the published default password can delete images.", u, nil))
	}
}

// probeLeaks asks for debug and metrics endpoints and Harbor's system
// information, and looks at the version banners every response carried.
func (a *auditor) probeLeaks(ctx context.Context) {
	var open []string
	for _, p := range []string{"/debug/vars", "/debug/pprof/", "/metrics"} {
		r, err := a.c.do(ctx, "info-leak", http.MethodGet, a.api+p, "", nil)
		if err == nil && r.status == http.StatusOK && len(r.body) > 0 {
			open = append(open, p)
		}
	}
	if len(open) > 0 {
		a.found = append(a.found, finding("registry-debug-endpoint", model.Medium, "Debug or metrics endpoints are reachable: "+strings.Join(open, ", "),
			"They reveal internals (memory, goroutines, request statistics) and pprof can be used to load the server. Serve them on a separate, private address.",
			a.api+open[0], map[string]string{"paths": strings.Join(open, ",")}))
	}
	banners := map[string]string{}
	if r, err := a.c.do(ctx, "info-leak", http.MethodGet, a.api+"/api/v2.0/systeminfo", "", nil); err == nil && r.status == http.StatusOK {
		var si struct {
			Version string `json:"harbor_version"`
		}
		if json.Unmarshal(r.body, &si) == nil && si.Version != "" {
			banners["harbor_version"] = si.Version
		}
	}
	a.c.mu.Lock()
	for h, v := range a.c.banners {
		if strings.ContainsAny(v, "0123456789") {
			banners[h] = v
		}
	}
	a.c.mu.Unlock()
	if len(banners) > 0 {
		keys := make([]string, 0, len(banners))
		for k := range banners {
			keys = append(keys, k+"="+banners[k])
		}
		sort.Strings(keys)
		a.found = append(a.found, finding("registry-version-banner", model.Low, "Registry reveals its software version: "+strings.Join(keys, ", "),
			"A version banner tells attackers which known vulnerabilities to try. Remove it from responses.", a.api, banners))
	}
}

func plaintextFinding(base string, r *response, pushed bool) model.Finding {
	sev, why := model.High, "Anyone in the network path can read and alter images in transit."
	ch := regapi.ParseChallenge(r.header.Get("WWW-Authenticate"))
	switch {
	case ch.Scheme != "":
		sev, why = model.Critical, "It asks for credentials over plain HTTP, so passwords and tokens cross the network in the clear; anyone in the path can also alter images in transit."
	case pushed:
		sev, why = model.Critical, "It accepts pushes over plain HTTP, so anyone in the path can replace what is pushed."
	}
	return finding("registry-plaintext", sev, "Registry API answers over plain HTTP", why+" Serve the registry over TLS only.", base+"/v2/", nil)
}

// exposure reports a registry with findings whose host resolves to a
// public address.
func (a *auditor) exposure(ctx context.Context, host string) *model.Finding {
	worst := model.Severity("")
	for _, f := range a.found {
		if f.Severity.Rank() >= model.Medium.Rank() && f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	if worst == "" {
		return nil
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		var err error
		if addrs, err = a.opt.Resolve(ctx, host); err != nil {
			a.c.log("exposure", "resolve "+host, "error: "+err.Error())
			return nil
		}
	}
	for _, ip := range addrs {
		if IsPublic(ip) {
			a.c.log("exposure", "resolve "+host, ip.String()+" is public")
			sev := model.High
			if worst == model.Critical {
				sev = model.Critical
			}
			f := finding("registry-exposed", sev, "Registry with the problems above is reachable at the public address "+ip.String(),
				"A private registry opened to the internet (an exposed port, no authentication) puts every image in it at risk. Restrict it to the private network or a VPN.",
				host, map[string]string{"address": ip.String()})
			return &f
		}
	}
	a.c.log("exposure", "resolve "+host, "no public address")
	return nil
}

// IsPublic reports whether ip is a globally routable unicast address:
// not private, loopback, link-local, shared (CGNAT), documentation,
// benchmarking or reserved.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("100::/64"),
}

func finding(id string, sev model.Severity, title, desc, location string, extra map[string]string) model.Finding {
	return model.Finding{Class: model.ClassRegistry, ID: id, Title: title, Severity: sev, Description: desc, Location: location, Extra: extra}
}

func withKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// redact keeps the first two characters of a secret.
func redact(s string) string {
	if len(s) <= 2 {
		return strings.Repeat("*", len(s))
	}
	return s[:2] + strings.Repeat("*", len(s)-2)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
