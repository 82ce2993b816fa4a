package registry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// regConfig selects how a test registry is set up.
type regConfig struct {
	tls      bool // serve HTTPS with a self-signed certificate valid for validFor
	validFor time.Duration
	htpasswd string // "user:password" for basic auth
	token    bool   // bearer tokens from a realm that grants anonymous pulls
	delete   bool   // storage deletes enabled
}

// testReg is a reference registry (distribution v3) served in-process
// with filesystem storage under dir.
type testReg struct {
	srv    *httptest.Server
	host   string
	dir    string
	cert   *x509.Certificate
	client *http.Client // trusts the server, sends creds when set
	user   string
	pass   string
}

func startRegistry(t *testing.T, rc regConfig) *testReg {
	t.Helper()
	logrus.SetLevel(logrus.PanicLevel)
	logrus.SetOutput(ioDiscard{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	r := &testReg{dir: filepath.Join(dir, "storage")}
	yaml := "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: " + r.dir + "\n"
	if rc.delete {
		yaml += "  delete:\n    enabled: true\n"
	}
	yaml += "http:\n  addr: 127.0.0.1:0\n"
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if rc.tls {
		scheme = "https"
	}
	base := scheme + "://" + srv.Listener.Addr().String()
	if rc.htpasswd != "" {
		user, pass, _ := strings.Cut(rc.htpasswd, ":")
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "htpasswd")
		writeFile(t, f, user+":"+string(h)+"\n")
		yaml += "auth:\n  htpasswd:\n    realm: test\n    path: " + f + "\n"
		r.user, r.pass = user, pass
	}
	var tokens *tokenServer
	if rc.token {
		tokens = newTokenServer(t, dir)
		yaml += "auth:\n  token:\n    realm: " + base + "/token\n    service: test-registry\n    issuer: test-issuer\n    jwks: " + tokens.jwks + "\n"
	}
	cfg, err := configuration.Parse(strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("registry config: %v\n%s", err, yaml)
	}
	cfg.Catalog.MaxEntries = 1000
	app := handlers.NewApp(context.Background(), cfg)
	srv.Config.Handler = app
	srv.Config.ErrorLog = log.New(ioDiscard{}, "", 0)
	if tokens != nil {
		mux := http.NewServeMux()
		mux.Handle("/token", tokens)
		mux.Handle("/", app)
		srv.Config.Handler = mux
	}
	if rc.tls {
		cert, key := selfSigned(t, rc.validFor)
		r.cert = cert
		// The reference registry's own TLS defaults: TLS 1.2 or later,
		// AEAD suites only.
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
			MinVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	r.srv = srv
	r.host = strings.TrimPrefix(base, scheme+"://")
	pool := x509.NewCertPool()
	if r.cert != nil {
		pool.AddCert(r.cert)
	}
	r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if tokens != nil {
		r.client.Transport = &tokenTransport{base: r.client.Transport, tokens: tokens}
	}
	return r
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// push writes img to repo:tag (or repo@digest when tag is "") with full rights.
func (r *testReg) push(t *testing.T, repoTag string, img v1.Image) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(r.client.Transport)}
	if r.user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass}))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// files lists every file and directory (with a trailing slash) under the
// storage root, so a test can tell that probes left nothing behind.
func (r *testReg) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(r.dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned makes a self-signed certificate for 127.0.0.1 valid from an
// hour ago for validFor.
func selfSigned(t *testing.T, validFor time.Duration) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "registry.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validFor),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"registry.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// tokenServer is a token realm: anonymous requests get pull rights on
// any repository (nothing else); basic credentials are refused; the test
// itself (admin) gets every right it asks for.
type tokenServer struct {
	key    *ecdsa.PrivateKey
	jwks   string
	signer jose.Signer
}

func newTokenServer(t *testing.T, dir string) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{key: key, jwks: filepath.Join(dir, "jwks.json")}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "test-key", Algorithm: "ES256", Use: "sig"}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	writeFile(t, ts.jwks, string(b))
	ts.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "test-key"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if _, _, ok := req.BasicAuth(); ok {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	admin := req.Header.Get("X-Test-Admin") == "1"
	var access []map[string]any
	for _, s := range req.URL.Query()["scope"] {
		parts := strings.Split(s, ":")
		if len(parts) != 3 {
			continue
		}
		var actions []string
		for _, a := range strings.Split(parts[2], ",") {
			if admin || (parts[0] == "repository" && a == "pull") {
				actions = append(actions, a)
			}
		}
		access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": actions})
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "test-issuer", "sub": "", "aud": "test-registry",
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": now.String(), "access": access})
	sig, err := ts.signer.Sign(claims)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	tok, _ := sig.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// tokenTransport marks the test's own requests to the realm as admin.
type tokenTransport struct {
	base   http.RoundTripper
	tokens *tokenServer
}

func (tt *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/token" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Admin", "1")
	}
	return tt.base.RoundTrip(r)
}
