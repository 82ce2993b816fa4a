package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryOptions configure a registry started by Registry.
type RegistryOptions struct {
	// User and Password, when set, turn on htpasswd basic authentication
	// with that one account.
	User, Password string
	// Delete enables manifest and blob deletes.
	Delete bool
	// Notify, when set, is an http(s) URL the registry posts its event
	// notification envelopes to.
	Notify string
	// NotifyAuthorization, when set, is the Authorization header sent
	// with each notification (e.g. "Bearer TOKEN").
	NotifyAuthorization string
}

// TestRegistry is a running Debian docker-registry (distribution 2.8).
type TestRegistry struct {
	// Host is 127.0.0.1:PORT; the registry speaks plain HTTP.
	Host string
	// Storage is the filesystem storage root.
	Storage string
	// User and Password are the htpasswd account ("" without auth).
	User, Password string
}

// Registry starts Debian's docker-registry for t with filesystem storage
// and a plain-HTTP listener on a free 127.0.0.1 port, and stops it when t
// ends. It skips t when the program is missing, unless CI is "true".
func Registry(t testing.TB, opt RegistryOptions) *TestRegistry {
	t.Helper()
	path, err := exec.LookPath("docker-registry")
	if err != nil {
		unavailable(t, &service{skip: true, err: fmt.Errorf("docker-registry is not installed (apt-get install the package listed in .ci/packages.txt)")}, "docker-registry")
	}
	dir := t.TempDir()
	r := &TestRegistry{Storage: filepath.Join(dir, "storage"), User: opt.User, Password: opt.Password}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r.Host = "127.0.0.1:" + strconv.Itoa(port)
	cfg := "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n" +
		"storage:\n  filesystem:\n    rootdirectory: " + r.Storage + "\n"
	if opt.Delete {
		cfg += "  delete:\n    enabled: true\n"
	}
	cfg += "http:\n  addr: " + r.Host + "\n"
	if opt.Notify != "" {
		cfg += "notifications:\n  endpoints:\n    - name: test\n      url: " + strconv.Quote(opt.Notify) +
			"\n      timeout: 5s\n      threshold: 5\n      backoff: 200ms\n"
		if opt.NotifyAuthorization != "" {
			cfg += "      headers:\n        Authorization: [" + strconv.Quote(opt.NotifyAuthorization) + "]\n"
		}
	}
	if opt.User != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(opt.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(f, []byte(opt.User+":"+string(h)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += "auth:\n  htpasswd:\n    realm: test-realm\n    path: " + f + "\n"
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(path, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = ownProcessGroup()
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker-registry: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-done:
			t.Fatalf("docker-registry exited; its log:\n%s", tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
		if registryAnswers(r.Host) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer within 30s; its log:\n%s", tail(logPath))
		}
	}
}

// registryAnswers reports whether GET /v2/ gets a registry answer (200,
// or 401 when authentication is on).
func registryAnswers(host string) bool {
	ctx, cancel := probeCtx()
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return strings.HasPrefix(resp.Header.Get("Docker-Distribution-Api-Version"), "registry/2")
}

// freePort returns a 127.0.0.1 TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
