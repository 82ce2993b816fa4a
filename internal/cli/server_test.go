package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/store"
)

// TestServerToken: token create prints the token alone, and the store
// knows it by its hash.
func TestServerToken(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"server", "token", "create", "--role", "admin", "--name", "ci", "--data-dir", dir, "--database", ""}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	tok := strings.TrimSuffix(out.String(), "\n")
	if !strings.HasPrefix(tok, store.TokenPrefix) || strings.Contains(tok, "\n") {
		t.Fatalf("stdout %q: want the token alone", out.String())
	}
	s, err := store.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Authenticate(context.Background(), tok); err != nil || got.Role != store.RoleAdmin {
		t.Fatalf("token not stored: %+v %v", got, err)
	}
}

// TestServerRefuses: settings that cannot work fail before anything runs.
func TestServerRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"server", "--role", "worker", "--database", ""},
		{"server", "--listen", "0.0.0.0:0", "--database", ""},
		{"server", "--database", "mysql://x"},
		{"server", "token", "create", "--role", "root", "--database", ""},
	} {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), append(args, "--data-dir", t.TempDir()), &out, &errb); code != ExitError || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
