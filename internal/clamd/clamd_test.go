package clamd_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/clamd"
	"github.com/customs-scanner/customs/internal/testenv"
)

func clamExe(t *testing.T) []byte {
	b, err := os.ReadFile("/usr/share/clamav-testfiles/clam.exe")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return b
}

// TestRealClamd scans through Debian's clamd loaded with ClamAV's own test
// signature for clam.exe (aa15bcf478d165efd2065190eb473bcb:544) and a body
// signature.
func TestRealClamd(t *testing.T) {
	exe := clamExe(t)
	sock := testenv.Clamd(t, map[string][]byte{
		"test.hdb": []byte("aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File\n"),
		"test.ndb": []byte("Planted.Marker:0:*:637573746f6d732d706c616e746564\n"),
	})
	c, err := clamd.New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || !strings.HasPrefix(v, "ClamAV") {
		t.Fatalf("version %q, %v", v, err)
	}
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{exe, "ClamAV-Test-File.UNOFFICIAL"},
		{[]byte("xx customs-planted yy"), "Planted.Marker.UNOFFICIAL"},
		{[]byte("clean"), ""},
	} {
		res, err := c.Scan(ctx, tc.data)
		if err != nil || res.Found != tc.want {
			t.Errorf("scan: %+v, %v; want %q", res, err, tc.want)
		}
	}
	// The daemon's StreamMaxLength is 1M: a client that sends more gets a
	// clear error; one set to the daemon's limit sends only the beginning.
	big := bytes.Repeat([]byte("A"), 2<<20)
	if _, err := c.Scan(ctx, big); err == nil || !strings.Contains(err.Error(), "StreamMaxLength") {
		t.Fatalf("over the limit: %v", err)
	}
	c.MaxStream = 1 << 20
	if res, err := c.Scan(ctx, big); err != nil || !res.Truncated {
		t.Fatalf("at the limit: %+v %v", res, err)
	}
}

func TestClamdDownOrSlow(t *testing.T) {
	c, _ := clamd.New("unix://" + filepath.Join(t.TempDir(), "none.sock"))
	if _, err := c.Scan(context.Background(), []byte("x")); !errors.Is(err, clamd.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	if c.Failed() == nil {
		t.Fatal("client keeps trying a daemon that is down")
	}
	// A daemon that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c, _ = clamd.New("tcp://" + l.Addr().String())
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	if _, err := c.Scan(context.Background(), []byte("x")); !errors.Is(err, clamd.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("slow: %v after %v", err, time.Since(start))
	}
	if _, err := clamd.New("ftp://x"); err == nil {
		t.Fatal("bad address accepted")
	}
}
