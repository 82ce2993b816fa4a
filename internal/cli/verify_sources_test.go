package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// cosignKey makes a key pair and writes the public key as cosign.pub.
func cosignKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, pub
}

// integrityIDs lists the report's integrity finding ids, plain HTTP aside.
func integrityIDs(rep *report.Report) []string {
	var ids []string
	for _, f := range rep.Findings {
		if f.Class == "integrity" && f.ID != "integrity-plain-http-pull" {
			ids = append(ids, f.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestVerifySignatureOCILayout: an OCI layout has no registry signature;
// --verify-signature must not pass it silently.
func TestVerifySignatureOCILayout(t *testing.T) {
	_, pub := cosignKey(t)
	dir := writeLayout(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", "layout\n"))))
	code, rep, stderr := jsonReport(t, "image", dir, "--verify-signature", "--cosign-key", pub, "--scanners", "secret", "--no-cache",
		"--severity", "CRITICAL", "--exit-code", "4")
	if code != 4 || rep == nil {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := integrityIDs(rep); !slices.Equal(got, []string{"integrity-signature-unverifiable"}) {
		t.Errorf("integrity findings %v", got)
	}
}

// TestVerifySignatureDockerEngine pulls a signed and an unsigned image
// from Debian's docker-registry into a real Docker Engine, and loads a
// third that never saw a registry: the engine's images are verified
// through the registry digests the engine recorded.
func TestVerifySignatureDockerEngine(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := testenv.Docker(t)
	r := testenv.Registry(t, testenv.RegistryOptions{})
	key, pub := cosignKey(t)
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()

	push := func(repo, body string) name.Tag {
		img := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", body)))
		tag, err := name.NewTag(r.Host+"/"+repo+":1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		if repo == "signed" {
			cosignSign(t, tag.Context(), d.String(), d.String(), key)
		}
		rc, err := cli.ImagePull(ctx, tag.String(), client.ImagePullOptions{})
		if err != nil {
			t.Fatalf("docker pull %s: %v", tag, err)
		}
		out, _ := io.ReadAll(rc)
		rc.Close()
		if strings.Contains(string(out), `"error"`) {
			t.Fatalf("docker pull %s: %s", tag, out)
		}
		t.Cleanup(func() { _, _ = cli.ImageRemove(ctx, tag.String(), client.ImageRemoveOptions{Force: true}) })
		return tag
	}
	signed := push("signed", "signed\n")
	unsigned := push("unsigned", "unsigned\n")
	for _, c := range []struct {
		ref  string
		want []string
	}{
		{signed.String(), nil},
		{unsigned.String(), []string{"integrity-unsigned"}},
	} {
		code, rep, stderr := jsonReport(t, "image", c.ref, "--source", "docker", "--docker-host", host, "--plain-http",
			"--verify-signature", "--cosign-key", pub, "--scanners", "secret", "--no-cache", "--exit-code", "5")
		if rep == nil {
			t.Fatalf("%s: exit %d: %s", c.ref, code, stderr)
		}
		if got := integrityIDs(rep); !slices.Equal(got, c.want) {
			t.Errorf("%s: integrity findings %v, want %v", c.ref, got, c.want)
		}
		if want := map[bool]int{true: ExitOK, false: 5}[c.want == nil]; code != want {
			t.Errorf("%s: exit %d, want %d: %s", c.ref, code, want, stderr)
		}
	}

	// An image loaded from a docker-save archive has no registry digest.
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", "local\n")))
	tag, err := name.NewTag("customs-test/local-only:1")
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "local.tar")
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	testenv.LoadImage(t, host, tarPath, tag.String())
	code, rep, stderr := jsonReport(t, "image", tag.String(), "--source", "docker", "--docker-host", host,
		"--verify-signature", "--cosign-key", pub, "--scanners", "secret", "--no-cache", "--exit-code", "5")
	if code != 5 || rep == nil {
		t.Fatalf("loaded image: exit %d: %s", code, stderr)
	}
	if got := integrityIDs(rep); !slices.Equal(got, []string{"integrity-signature-unverifiable"}) {
		t.Errorf("loaded image: integrity findings %v", got)
	}
}
