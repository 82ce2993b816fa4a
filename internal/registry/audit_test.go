package registry_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/registry"
)

// auditIDs runs an audit and returns the sorted finding ids with their
// severities ("registry-plaintext:CRITICAL").
func auditIDs(t *testing.T, target string, opt registry.AuditOptions) ([]string, *registry.AuditResult) {
	t.Helper()
	opt.CredentialInterval = time.Millisecond
	res, err := registry.Audit(context.Background(), target, opt)
	if err != nil {
		t.Fatalf("audit %s: %v", target, err)
	}
	var ids []string
	for _, f := range res.Findings {
		if f.Class != model.ClassRegistry {
			t.Errorf("finding %s has class %s", f.ID, f.Class)
		}
		ids = append(ids, f.ID+":"+string(f.Severity))
	}
	sort.Strings(ids)
	return ids, res
}

func expectIDs(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings\n got  %v\n want %v", got, want)
	}
}

func seed(t *testing.T, r *testReg) []string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.push(t, "team/app:1.0", img)
	return r.files(t)
}

// checkNothingLeft asserts that the storage tree (every file and
// directory) is exactly what it was before the probes.
func checkNothingLeft(t *testing.T, r *testReg, before []string) {
	t.Helper()
	if after := r.files(t); !slices.Equal(before, after) {
		t.Errorf("probes left data behind:\n before %v\n after  %v", before, after)
	}
	resp, err := r.client.Get(r.srv.URL + "/v2/_catalog")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "customs-audit-probe") {
			t.Errorf("catalog lists a probe repository: %s", b)
		}
	}
}

func TestAuditAnonymousReadWrite(t *testing.T) {
	r := startRegistry(t, regConfig{})
	before := seed(t, r)
	ids, res := auditIDs(t, r.host, registry.AuditOptions{ProbePush: true, ProbeDelete: true, ProbeCredentials: true})
	expectIDs(t, ids,
		"registry-anonymous-push:CRITICAL", "registry-plaintext:CRITICAL",
		"registry-anonymous-catalog:HIGH", "registry-anonymous-pull:HIGH",
		"registry-anonymous-api:MEDIUM", "registry-anonymous-tags:MEDIUM")
	if res.API != "http://"+r.host {
		t.Errorf("API %s", res.API)
	}
	checkNothingLeft(t, r, before)
}

func TestAuditPlaintextReadOnly(t *testing.T) {
	r := startRegistry(t, regConfig{})
	before := seed(t, r)
	ids, res := auditIDs(t, "http://"+r.host, registry.AuditOptions{})
	expectIDs(t, ids, "registry-plaintext:HIGH", "registry-anonymous-catalog:HIGH", "registry-anonymous-pull:HIGH",
		"registry-anonymous-api:MEDIUM", "registry-anonymous-tags:MEDIUM")
	for _, p := range res.Probes {
		if m, _, _ := strings.Cut(p.Request, " "); m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" {
			t.Errorf("read-only audit sent %s", p.Request)
		}
	}
	checkNothingLeft(t, r, before)
}

func TestAuditHtpasswdDefaultCredentials(t *testing.T) {
	r := startRegistry(t, regConfig{htpasswd: "admin:Harbor12345"})
	before := seed(t, r)
	ids, res := auditIDs(t, r.host, registry.AuditOptions{ProbePush: true, ProbeDelete: true, ProbeCredentials: true})
	expectIDs(t, ids, "registry-credential-push:CRITICAL", "registry-default-credentials:CRITICAL", "registry-plaintext:CRITICAL")
	for _, f := range res.Findings {
		if strings.Contains(f.Title+f.Description+f.Extra["password"], "Harbor12345") {
			t.Errorf("finding %s shows the password", f.ID)
		}
	}
	checkNothingLeft(t, r, before)

	// With a password that is not a default, nothing but plaintext.
	r2 := startRegistry(t, regConfig{htpasswd: "ci:a-long-unguessable-password"})
	before = seed(t, r2)
	ids, _ = auditIDs(t, r2.host, registry.AuditOptions{ProbePush: true, ProbeDelete: true, ProbeCredentials: true})
	expectIDs(t, ids, "registry-plaintext:CRITICAL")
	checkNothingLeft(t, r2, before)
}

func TestAuditTokenAnonymousPull(t *testing.T) {
	r := startRegistry(t, regConfig{token: true})
	before := seed(t, r)
	ids, res := auditIDs(t, r.host, registry.AuditOptions{ProbePush: true, ProbeDelete: true, ProbeCredentials: true,
		Repositories: []string{"team/app"}})
	expectIDs(t, ids, "registry-plaintext:CRITICAL", "registry-anonymous-pull:HIGH", "registry-anonymous-tags:MEDIUM",
		"registry-anonymous-api:MEDIUM")
	for _, f := range res.Findings {
		if f.ID == "registry-anonymous-pull" && !strings.Contains(f.Title, "anonymous token") {
			t.Errorf("pull finding does not say it came through an anonymous token: %s", f.Title)
		}
	}
	checkNothingLeft(t, r, before)
}

func TestAuditSelfSignedTLS(t *testing.T) {
	r := startRegistry(t, regConfig{tls: true, validFor: 10 * 24 * time.Hour})
	before := seed(t, r)
	ids, res := auditIDs(t, r.host, registry.AuditOptions{})
	expectIDs(t, ids, "registry-anonymous-catalog:HIGH", "registry-anonymous-pull:HIGH",
		"registry-anonymous-api:MEDIUM", "registry-anonymous-tags:MEDIUM",
		"registry-tls-self-signed:MEDIUM", "registry-tls-expiring:MEDIUM")
	if res.API != "https://"+r.host {
		t.Errorf("API %s", res.API)
	}
	// Trusting the certificate removes the self-signed finding.
	pool := x509.NewCertPool()
	pool.AddCert(r.cert)
	ids, _ = auditIDs(t, "https://"+r.host, registry.AuditOptions{RootCAs: pool})
	if slices.Contains(ids, "registry-tls-self-signed:MEDIUM") {
		t.Errorf("trusted certificate reported as self-signed: %v", ids)
	}
	checkNothingLeft(t, r, before)
}

func TestAuditDeleteEnabled(t *testing.T) {
	r := startRegistry(t, regConfig{delete: true})
	before := seed(t, r)
	ids, _ := auditIDs(t, r.host, registry.AuditOptions{ProbeDelete: true})
	expectIDs(t, ids, "registry-anonymous-delete:CRITICAL", "registry-plaintext:HIGH", "registry-anonymous-catalog:HIGH",
		"registry-anonymous-pull:HIGH", "registry-anonymous-api:MEDIUM", "registry-anonymous-tags:MEDIUM")
	checkNothingLeft(t, r, before)
}

// TestAuditWeakTLS serves a registry-like endpoint that accepts TLS 1.0
// and a CBC-SHA1 suite, with a certificate for another host that expired.
func TestAuditWeakTLS(t *testing.T) {
	cert, key := selfSigned(t, -time.Minute)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = apiOnly{}
	srv.Config.ErrorLog = log.New(ioDiscard{}, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		MinVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	srv.StartTLS()
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	ids, _ := auditIDs(t, "localhost:"+strconv.Itoa(port), registry.AuditOptions{})
	expectIDs(t, ids, "registry-tls-expired:HIGH", "registry-tls-hostname-mismatch:HIGH", "registry-tls-old-version:HIGH",
		"registry-tls-weak-cipher:HIGH", "registry-tls-self-signed:MEDIUM", "registry-anonymous-api:MEDIUM")
}

// apiOnly answers /v2/ like an open registry and nothing else.
type apiOnly struct{}

func (apiOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		w.Write([]byte("{}"))
		return
	}
	http.NotFound(w, r)
}

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700:4700::1111": true, "::ffff:1.1.1.1": true, "151.101.1.69": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.10": false, "100.64.1.1": false,
		"169.254.169.254": false, "::1": false, "fd00::1": false, "fe80::1": false, "0.0.0.0": false,
		"203.0.113.5": false, "2001:db8::1": false, "224.0.0.1": false, "255.255.255.255": false,
	} {
		if got := registry.IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestAuditExposure resolves the registry's name to a public address (the
// resolver is the only fake: the probes still go to the loopback registry).
func TestAuditExposure(t *testing.T) {
	r := startRegistry(t, regConfig{})
	seed(t, r)
	_, port, _ := net.SplitHostPort(r.host)
	opt := registry.AuditOptions{Resolve: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("8.8.4.4")}, nil
	}}
	ids, _ := auditIDs(t, "localhost:"+port, opt)
	if !slices.Contains(ids, "registry-exposed:HIGH") {
		t.Errorf("public address not reported: %v", ids)
	}
}
