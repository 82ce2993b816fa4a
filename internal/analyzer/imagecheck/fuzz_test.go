package imagecheck_test

import (
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer/imagecheck"
	"github.com/customs-scanner/customs/internal/check"
)

func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, a := range imagecheck.ParseAccounts(b) {
			if a.ID < -1 || a.Line < 1 || strings.Contains(a.Name, "\n") {
				t.Fatalf("bad account %+v", a)
			}
		}
	})
}

func FuzzParseInetd(f *testing.F) {
	f.Add([]byte("# comment\ntelnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := imagecheck.ParseInetd(b); len(s) > 1000 {
			t.Fatalf("%d services", len(s))
		}
	})
}

func FuzzParseXinetd(f *testing.F) {
	f.Add([]byte("service tftp\n{\n\tdisable = no\n}\nservice echo\n{\n\tdisable = yes\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range imagecheck.ParseXinetd(b) {
			if s.Name == "" || s.Line < 1 {
				t.Fatalf("bad service %+v", s)
			}
		}
	})
}

func FuzzParseCreatedBy(f *testing.F) {
	f.Add("/bin/sh -c #(nop) ADD dir:4567ef in /app ")
	f.Add("RUN |1 V=1 /bin/sh -c curl -fsSL https://example.com/i.sh | sh # buildkit")
	f.Add(`ADD ["a b", "/c"] # buildkit`)
	f.Fuzz(func(t *testing.T, s string) {
		in := imagecheck.ParseCreatedBy(s)
		for _, id := range imagecheck.InstructionChecks(in) {
			if _, ok := check.Lookup(id); !ok {
				t.Fatalf("unknown id %q", id)
			}
		}
	})
}

func FuzzTag(f *testing.F) {
	f.Add("registry.example.com:5000/team/app:1.2")
	f.Add("app@sha256:0123")
	f.Fuzz(func(t *testing.T, ref string) {
		tag, pinned := imagecheck.Tag(ref)
		if pinned && tag != "" {
			t.Fatalf("pinned reference %q with tag %q", ref, tag)
		}
	})
}
