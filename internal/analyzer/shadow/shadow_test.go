package shadow

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// requireCrypt skips a test that needs libxcrypt in a build without cgo
// (and fails it in CI, which builds with cgo). It also clears the
// in-process memo, so that each test hashes for itself.
func requireCrypt(t *testing.T) {
	t.Helper()
	process.Clear()
	if cryptEngine != "libxcrypt" {
		if os.Getenv("CI") != "" {
			t.Fatal("built without cgo: libxcrypt unavailable")
		}
		t.Skip("built without cgo")
	}
}

func analyze(t *testing.T, a *Analyzer, path string, content []byte) *analyzer.Result {
	t.Helper()
	var r analyzer.Result
	f := &analyzer.File{Entry: analyzer.Entry{Path: path, Mode: 0o640, Size: int64(len(content))}, Content: content}
	if err := a.Analyze(context.Background(), f, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func byID(fs []model.Finding) map[string]map[string]model.Finding {
	out := map[string]map[string]model.Finding{}
	for _, f := range fs {
		if out[f.ID] == nil {
			out[f.ID] = map[string]model.Finding{}
		}
		name := f.Match
		for i := range name {
			if name[i] == ':' {
				name = name[:i]
				break
			}
		}
		out[f.ID][name] = f
	}
	return out
}

// TestMkpasswdHashes checks hashes that Debian's mkpasswd (package whois)
// wrote for list passwords, one per scheme.
func TestMkpasswdHashes(t *testing.T) {
	requireCrypt(t)
	b, err := os.ReadFile("testdata/shadow.mkpasswd")
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Guessing: GuessDeep, PerHash: time.Minute, Budget: 2 * time.Minute})
	// grace's password is not on the list: guessing it would try every
	// candidate, which TestNoMatch does on a short list.
	b = bytes.ReplaceAll(b, []byte("grace:$6$"), []byte("grace:!$6$"))
	r := analyze(t, a, "etc/shadow", b)
	got := byID(r.Findings)
	// The passwords mkpasswd was given, by account.
	want := map[string]string{"root": "letmein", "alice": "changeme", "bob": "dragon", "carol": "raspberry", "dave": "vagrant"}
	for name, pw := range want {
		f, ok := got["shadow-weak-password"][name]
		if !ok {
			t.Errorf("%s (%s): weak password not found; findings %v", name, pw, got)
			continue
		}
		if f.Match != name+":********" || f.Path != "etc/shadow" || f.Class != model.ClassSecret {
			t.Errorf("%s: finding %+v", name, f)
		}
		if _, ok := got["shadow-usable-password"][name]; !ok {
			t.Errorf("%s: usable-password finding missing", name)
		}
	}
	if got["shadow-weak-password"]["root"].Severity != model.Critical || got["shadow-weak-password"]["alice"].Severity != model.High {
		t.Errorf("severities: %v", got["shadow-weak-password"])
	}
	if got["shadow-weak-password"]["root"].Line != 1 || got["shadow-weak-password"]["carol"].Line != 5 {
		t.Errorf("lines: %v", got["shadow-weak-password"])
	}
	for _, locked := range []string{"daemon", "erin"} {
		for id := range got {
			if _, ok := got[id][locked]; ok {
				t.Errorf("locked account %s reported: %s", locked, id)
			}
		}
	}
	if f, ok := got["shadow-empty-password"]["frank"]; !ok || f.Severity != model.Critical {
		t.Errorf("empty password of frank: %+v", got["shadow-empty-password"])
	}
	if len(r.Warnings) > 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
}

// TestNoMatch checks a SHA-512 hash of a password that is not a guess.
func TestNoMatch(t *testing.T) {
	requireCrypt(t)
	b, err := os.ReadFile("testdata/shadow.mkpasswd")
	if err != nil {
		t.Fatal(err)
	}
	var grace Account
	for _, acc := range Parse(b) {
		if acc.Name == "grace" {
			grace = acc
		}
	}
	if grace.State() != Usable || grace.Scheme() != "sha512crypt" {
		t.Fatalf("grace: %+v", grace)
	}
	guesses := Candidates()[:200]
	res := crack(context.Background(), grace.Hash, guesses, 0, 2, time.Minute, nil)
	if res.Found || !res.Complete || res.Tried != len(guesses) || res.Next != len(guesses) || res.Err != nil {
		t.Errorf("got %+v", res)
	}
	if n := len(Candidates()); n < 2000 {
		t.Errorf("only %d candidates", n)
	}
}

func TestShowSecrets(t *testing.T) {
	requireCrypt(t)
	b, err := os.ReadFile("testdata/shadow.mkpasswd")
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{ShowSecrets: true, Budget: time.Minute, PerHash: time.Minute})
	r := analyze(t, a, "etc/shadow", b[:len(firstLine(b))])
	got := byID(r.Findings)
	if f := got["shadow-weak-password"]["root"]; f.Match != "root:letmein" {
		t.Errorf("match %q, want root:letmein", f.Match)
	}
	if a.ConfigKey() == New(Options{}).ConfigKey() {
		t.Error("config key ignores ShowSecrets")
	}
}

func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			return b[:i+1]
		}
	}
	return b
}

func TestBudget(t *testing.T) {
	requireCrypt(t)
	b, err := os.ReadFile("testdata/shadow.mkpasswd")
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Guessing: GuessDeep, Budget: 300 * time.Millisecond, PerHash: 100 * time.Millisecond})
	start := time.Now()
	r := analyze(t, a, "etc/shadow", b)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 300ms budget", d)
	}
	if len(r.Warnings) == 0 {
		t.Error("no warning about the time bound")
	}
	if !r.Incomplete {
		t.Error("a result cut short by time is not marked incomplete")
	}
}

func TestParse(t *testing.T) {
	in := "root:*:1::\n\nbad line\n:x:\nu1::\r\n# comment:x\nu2:!:\nu3:$6$s$h"
	got := Parse([]byte(in))
	want := []Account{{"root", "*", 1}, {"u1", "", 5}, {"u2", "!", 7}, {"u3", "$6$s$h", 8}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v want %+v", i, got[i], want[i])
		}
	}
	if got[1].State() != Empty || got[2].State() != Locked || got[0].State() != Locked {
		t.Error("states")
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/shadow.mkpasswd"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		accs := Parse(b)
		if len(accs) > maxLines {
			t.Fatalf("%d accounts", len(accs))
		}
		for _, a := range accs {
			if a.Name == "" || len(a.Hash) > maxHashBytes || a.Line < 1 {
				t.Fatalf("bad account %+v", a)
			}
			_ = a.State()
			_ = a.Scheme()
		}
	})
}
