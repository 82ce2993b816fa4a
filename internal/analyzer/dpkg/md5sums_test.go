package dpkg

import (
	"context"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
)

// TestMD5Sums reads a package's md5sums file as dpkg writes it, binary
// mode marks and hostile paths included.
func TestMD5Sums(t *testing.T) {
	body := "0b5ab0e2e3e5b7a8d7c2a9ad2e1b9c3f  usr/bin/passwd\n" +
		"4F1D0A2B3C4D5E6F7A8B9C0D1E2F3A4B *usr/share/doc/passwd/../../../../etc/shadow\n" +
		"not a digest line\n"
	var r analyzer.Result
	f := &analyzer.File{Entry: analyzer.Entry{Path: "var/lib/dpkg/info/passwd:amd64.md5sums", Mode: 0o644, Size: int64(len(body))}, Content: []byte(body)}
	if n := New().Need(&f.Entry); n != analyzer.Content {
		t.Fatalf("need %v", n)
	}
	if err := New().Analyze(context.Background(), f, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Owned) != 1 || r.Owned[0].Package != "passwd" || r.Owned[0].DB != f.Path || len(r.Owned[0].Files) != 2 {
		t.Fatalf("owned %+v", r.Owned)
	}
	if o := r.Owned[0].Files[1]; o.Path != "etc/shadow" || o.Digest != "md5:4f1d0a2b3c4d5e6f7a8b9c0d1e2f3a4b" {
		t.Errorf("second file %+v", o)
	}
	if len(r.Warnings) != 1 {
		t.Errorf("warnings %v", r.Warnings)
	}
}
