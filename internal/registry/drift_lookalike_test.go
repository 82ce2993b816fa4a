package registry

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestDriftStore(t *testing.T) {
	p := filepath.Join(t.TempDir(), "registry.db")
	s, err := OpenDriftStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	s.now = func() time.Time { return now }
	const tag, d1, d2 = "registry.example/team/app:1", "sha256:" + "11", "sha256:" + "22"
	if f, err := s.Observe(tag, d1); f != nil || err != nil {
		t.Fatalf("first sight: %v %v", f, err)
	}
	now = t0.Add(time.Hour)
	if f, err := s.Observe(tag, d1); f != nil || err != nil {
		t.Fatalf("same digest: %v %v", f, err)
	}
	// A new process sees the stored record.
	s.Close()
	s, err = OpenDriftStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now = t0.Add(48 * time.Hour)
	s.now = func() time.Time { return now }
	f, err := s.Observe(tag, d2)
	if err != nil || f == nil {
		t.Fatalf("moved tag not reported: %v", err)
	}
	if f.Class != "integrity" || f.ID != "integrity-tag-drift" || f.Extra["old_digest"] != d1 || f.Extra["new_digest"] != d2 ||
		f.Extra["first_seen"] != t0.Format(time.RFC3339) || f.Extra["last_seen"] != t0.Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("finding %+v", f)
	}
	if r, _ := s.Lookup(tag); r.Digest != d2 || !r.FirstSeen.Equal(now) {
		t.Errorf("record after drift %+v", r)
	}
	if f, _ := s.Observe("registry.example/team/app:2", d1); f != nil {
		t.Error("another tag with the same digest reported as drift")
	}
	bad := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(bad, []byte("not a database, not at all: some text long enough to be read as a header"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDriftStore(bad); err == nil {
		t.Error("corrupt store opened without error")
	}
}

func TestLookAlike(t *testing.T) {
	for ref, imitates := range map[string]string{
		"ubunto:22.04":                "ubuntu",
		"alpnie":                      "alpine",
		"library/ngnix":               "nginx",
		"docker.io/library/a1pine":    "alpine",
		"postgress:16":                "postgres",
		"evil/ngnix":                  "nginx",
		"registry.internal/ubunto":    "ubuntu",
		"rnongo":                      "mongo",
		"elasticsaerch":               "elasticsearch",
		"ubuntu:22.04":                "",
		"library/nginx":               "",
		"grafana/grafana":             "",
		"nginxinc/nginx-unprivileged": "",
		"registry.internal/team/app":  "",
		"myorg/billing-service":       "",
		"ghcr.io/acme/api":            "",
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		f := LookAlike(r)
		switch {
		case imitates == "" && f != nil:
			t.Errorf("%s reported: %s", ref, f.Title)
		case imitates != "" && f == nil:
			t.Errorf("%s not reported as imitating %s", ref, imitates)
		case f != nil && (f.Extra["imitates"] != imitates || f.Class != "integrity"):
			t.Errorf("%s: %+v", ref, f)
		}
	}
}
