package signature_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/customs-scanner/customs/internal/signature"
)

func writeKey(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sign stores a cosign signature of digestRef made with key, in cosign's
// format: a simple-signing payload layer under sha256-<hex>.sig.
func sign(t *testing.T, digestRef name.Digest, key *ecdsa.PrivateKey, signedDigest string) {
	t.Helper()
	payload := simpleSigning(digestRef, signedDigest)
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	storeSignature(t, digestRef, payload, map[string]string{signature.Annotation: base64.StdEncoding.EncodeToString(sig)})
}

// simpleSigning is cosign's simple-signing payload naming ref's
// repository and signedDigest.
func simpleSigning(ref name.Digest, signedDigest string) []byte {
	return []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		ref.Context().Name(), signedDigest))
}

// storeSignature writes a signature image of ref as cosign does: one
// payload layer with annotations, under ref's sha256-<hex>.sig tag.
func storeSignature(t *testing.T, ref name.Digest, payload []byte, annotations map[string]string) {
	t.Helper()
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(signature.SigTag(ref), img); err != nil {
		t.Fatal(err)
	}
}

// randomImages serves an in-memory registry until the test ends and
// returns a function that pushes a random image to repo:1 there and names
// it by digest.
func randomImages(t *testing.T) func(repo string) name.Digest {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	return func(repo string) name.Digest {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(host + "/" + repo + ":1")
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return tag.Context().Digest(d.String())
	}
}

func TestVerify(t *testing.T) {
	push := randomImages(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, otherPub := writeKey(t, key), writeKey(t, other)

	signed, unsigned, wrongKey, wrongDigest := push("signed"), push("unsigned"), push("wrongkey"), push("wrongdigest")
	sign(t, signed, key, signed.DigestStr())
	sign(t, wrongKey, other, wrongKey.DigestStr())
	sign(t, wrongDigest, key, unsigned.DigestStr()) // a valid signature of another image, copied over

	ctx := context.Background()
	for _, c := range []struct {
		ref  name.Digest
		key  string
		want string
	}{
		{signed, pub, ""},
		{signed, otherPub, "integrity-signature-invalid"},
		{unsigned, pub, "integrity-unsigned"},
		{wrongKey, pub, "integrity-signature-invalid"},
		{wrongKey, otherPub, ""},
		{wrongDigest, pub, "integrity-signature-invalid"},
	} {
		f, err := signature.Verify(ctx, c.ref, signature.Options{KeyPath: c.key})
		if err != nil {
			t.Fatalf("%s: %v", c.ref, err)
		}
		got := ""
		if f != nil {
			got = f.ID
			if f.Class != "integrity" || f.Severity != "HIGH" {
				t.Errorf("%s: %+v", c.ref, f)
			}
		}
		if got != c.want {
			t.Errorf("%s with %s: %q, want %q", c.ref.Context().RepositoryStr(), filepath.Base(c.key), got, c.want)
		}
	}
	if _, err := signature.Verify(ctx, signed, signature.Options{Identity: "me@example.com", Issuer: "https://issuer"}); err == nil {
		t.Error("keyless verification claims to work")
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"}}`))
	f.Add([]byte(`{"critical":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := signature.ParsePayload(b)
		if err == nil && p == nil {
			t.Fatal("nil payload without error")
		}
	})
}
