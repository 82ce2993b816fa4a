package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/signature"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// cosignSign stores a cosign key-based signature of digest under the
// signature tag of repo@under, in cosign's format.
func cosignSign(t *testing.T, repo name.Repository, under, digest string, key *ecdsa.PrivateKey) {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		repo.Name(), digest))
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{signature.Annotation: base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(signature.SigTag(repo.Digest(under)), img); err != nil {
		t.Fatal(err)
	}
}

// TestVerifySignatureThroughIndex scans multi-platform images by tag:
// the scan uses the linux/amd64 image, and a signature of the index (as
// `cosign sign repo:tag` makes) or of the platform image verifies it.
func TestVerifySignatureThroughIndex(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := testenv.Registry(t, testenv.RegistryOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// pushIndex pushes a two-platform index to repo:1 and returns the
	// repository, the index digest and the linux/amd64 image digest.
	pushIndex := func(repo string) (name.Repository, string, string) {
		amd := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", repo+"-amd64\n")))
		arm := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", repo+"-arm64\n")))
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
		tag, err := name.NewTag(r.Host+"/"+repo+":1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(tag, idx); err != nil {
			t.Fatal(err)
		}
		id, _ := idx.Digest()
		ad, _ := amd.Digest()
		return tag.Context(), id.String(), ad.String()
	}
	indexSigned, indexDigest, amdDigest := pushIndex("index-signed")
	cosignSign(t, indexSigned, indexDigest, indexDigest, key)
	imageSigned, _, imageDigest := pushIndex("image-signed")
	cosignSign(t, imageSigned, imageDigest, imageDigest, key)
	otherSigned, otherIndex, _ := pushIndex("other-signed")
	cosignSign(t, otherSigned, otherIndex, indexDigest, key) // the first index's signature, copied
	unsigned, _, _ := pushIndex("unsigned")

	for _, c := range []struct {
		repo name.Repository
		want []string
	}{
		{indexSigned, nil},
		{imageSigned, nil},
		{otherSigned, []string{"integrity-signature-invalid"}},
		{unsigned, []string{"integrity-unsigned"}},
	} {
		code, out, stderr := runMain(t, "image", c.repo.Name()+":1", "--plain-http", "--verify-signature", "--cosign-key", pub,
			"--scanners", "secret", "--no-cache", "-f", "json")
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", c.repo, code, stderr)
		}
		var rep report.Report
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("%s: %v", c.repo, err)
		}
		var got []string
		for _, f := range rep.Findings {
			if f.Class == "integrity" && f.ID != "integrity-plain-http-pull" {
				got = append(got, f.ID)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: integrity findings %v, want %v", c.repo.RepositoryStr(), got, c.want)
		}
		if c.repo == indexSigned && rep.Artifact.Digest != amdDigest {
			t.Errorf("scanned %s, want the linux/amd64 image %s", rep.Artifact.Digest, amdDigest)
		}
	}
}
