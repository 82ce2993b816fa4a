package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/console"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// consoleServer is a running customs server with its console, an admin
// and a read token.
type consoleServer struct {
	*server.Server
	url         string
	admin, read string
}

// startServer runs a server with the embedded store under a temporary
// directory, the bundled sample vulnerability database and a secret key
// for registry credentials, until the test ends.
func startServer(t *testing.T) *consoleServer {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		DataDir: filepath.Join(dir, "data"), Workers: 2, HostName: "test-host", ShutdownGrace: 5 * time.Second, SweepCheck: time.Second,
		SecretKeyFile: key, Console: console.New,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pipeline: pipeline.Config{Vuln: pipeline.VulnConfig{DBDir: vulndb.SampleName}, Version: "test"},
	}
	ctx := context.Background()
	s, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := testenv.Listen(t)
	testenv.Serve(t, s, ln)
	cs := &consoleServer{Server: s, url: "http://" + ln.Addr().String()}
	if cs.admin, err = s.Store().CreateToken(ctx, store.RoleAdmin, "alice"); err != nil {
		t.Fatal(err)
	}
	if cs.read, err = s.Store().CreateToken(ctx, store.RoleRead, "bob"); err != nil {
		t.Fatal(err)
	}
	return cs
}

// client is an HTTP client with a cookie jar that does not follow
// redirects.
type client struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (cs *consoleServer) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, url: cs.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get answers a GET's status, Location and body.
func (b *client) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// post posts a form and answers the status, Location and body.
func (b *client) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the page at path.
func (b *client) csrf(path string) string {
	b.t.Helper()
	code, _, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if code != 200 || m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token", path, code)
	}
	return m[1]
}

// signin signs in with token and answers the status and Location.
func (b *client) signin(token string) (int, string) {
	b.t.Helper()
	code, loc, _ := b.post("/signin", url.Values{"csrf": {b.csrf("/signin")}, "token": {token}, "next": {"/images"}})
	return code, loc
}
