package webhook_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/customs-scanner/customs/internal/webhook"
)

// addTestdata adds every JSON file under testdata/dir as a fuzz seed.
func addTestdata(f *testing.F, dir string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkParse checks what every parser promises, whatever the body: a
// refused body gives no push; an accepted one only valid pushes, no more
// than MaxEvents, and only skip errors.
func checkParse(t *testing.T, body []byte, pushes []webhook.Push, err error) {
	t.Helper()
	if errors.Is(err, webhook.ErrRejected) {
		if pushes != nil {
			t.Fatalf("rejected body gave %d pushes", len(pushes))
		}
		return
	}
	if len(body) > webhook.MaxBody {
		t.Fatalf("accepted a body of %d bytes", len(body))
	}
	if pushes == nil {
		t.Fatal("accepted body gave a nil slice")
	}
	if len(pushes) > webhook.MaxEvents {
		t.Fatalf("%d pushes", len(pushes))
	}
	if err != nil && len(webhook.Skips(err)) == 0 {
		t.Fatalf("error %v is neither a rejection nor skips", err)
	}
	for _, p := range pushes {
		// Image tools read the reference's first component as the
		// registry host: it must be the push's registry.
		normalized, perr := reference.ParseNormalizedNamed(p.Reference())
		if perr != nil || reference.Domain(normalized) != p.Registry {
			t.Fatalf("push %+v: reference %q names registry %v (%v)", p, p.Reference(), normalized, perr)
		}
		ref, perr := reference.Parse(p.Reference())
		named, ok := ref.(reference.Canonical)
		if perr != nil || !ok || reference.Path(named) != p.Repository || named.Digest().String() != p.Digest {
			t.Fatalf("push %+v: reference %q reads back as %v (%v)", p, p.Reference(), ref, perr)
		}
		if _, derr := digest.Parse(p.Digest); derr != nil {
			t.Fatalf("push %+v: %v", p, derr)
		}
		if p.Tag != "" && !reference.TagRegexp.MatchString(p.Tag) {
			t.Fatalf("push %+v: invalid tag", p)
		}
	}
}

func FuzzParseDistribution(f *testing.F) {
	addTestdata(f, "distribution")
	f.Fuzz(func(t *testing.T, body []byte) {
		pushes, err := webhook.ParseDistribution(body)
		checkParse(t, body, pushes, err)
		for _, p := range pushes {
			if p.MediaType == "" {
				t.Fatalf("push %+v without a media type", p)
			}
		}
	})
}

func FuzzParseHarbor(f *testing.F) {
	addTestdata(f, "harbor")
	f.Fuzz(func(t *testing.T, body []byte) {
		pushes, err := webhook.ParseHarbor(body)
		checkParse(t, body, pushes, err)
	})
}
