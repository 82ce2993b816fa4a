package harbor

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseScanRequest: any body is refused with one of the request
// errors or gives a target whose image names the request's digest,
// never a panic.
func FuzzParseScanRequest(f *testing.F) {
	f.Add(request("https://core.harbor.domain", basic("robot$x", "p"), "library/mongo", testDigest, "3.14", MimeDockerManifest))
	f.Fuzz(func(t *testing.T, body []byte) {
		tg, err := ParseScanRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if !strings.HasSuffix(tg.Image, "@"+tg.Artifact.Digest) || strings.ContainsAny(tg.Image, " \n") {
			t.Fatalf("image %q of digest %q", tg.Image, tg.Artifact.Digest)
		}
	})
}
