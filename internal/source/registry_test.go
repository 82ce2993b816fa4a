package source_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
)

const (
	testUser = "ci"
	testPass = "s3cret-token"
)

// testRegistry serves an in-process registry. With tls it uses a
// self-signed certificate and requires basic auth; swap, when set,
// serves other bytes for one blob.
type testRegistry struct {
	srv  *httptest.Server
	host string
	swap map[string][]byte // blob digest -> bytes served instead
}

func newTestRegistry(t *testing.T, tls bool) *testRegistry {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no stored credentials
	r := &testRegistry{swap: map[string][]byte{}}
	inner := registry.New()
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tls {
			if u, p, ok := req.BasicAuth(); !ok || u != testUser || p != testPass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if i := strings.LastIndex(req.URL.Path, "/blobs/"); i >= 0 && req.Method == http.MethodGet {
			if b, ok := r.swap[req.URL.Path[i+len("/blobs/"):]]; ok {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write(b)
				return
			}
		}
		inner.ServeHTTP(w, req)
	})
	if tls {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(strings.TrimPrefix(r.srv.URL, "https://"), "http://")
	return r
}

// push writes img (or an index) to repo:tag with the server's own trust.
func (r *testRegistry) push(t *testing.T, repo string, img v1.Image, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(r.srv.Client().Transport), remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})}
	if idx != nil {
		err = remote.WriteIndex(ref, idx, opts...)
	} else {
		err = remote.Write(ref, img, opts...)
	}
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	return r.host + "/" + repo
}

func TestRegistryAuthAndTLS(t *testing.T) {
	r := newTestRegistry(t, true)
	img := sampleImage(t)
	ref := r.push(t, "team/app:1", img, nil)
	ctx := context.Background()
	trusted := r.srv.Client().Transport

	opened, err := source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, Username: testUser, Password: testPass, Transport: trusted})
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	m := opened.Meta()
	if want, _ := img.Digest(); m.Digest != want.String() || m.Kind != source.KindRegistry || m.PlainHTTP {
		t.Errorf("digest %s kind %s plain %v, want %s over TLS", m.Digest, m.Kind, m.PlainHTTP, want)
	}
	checkScan(t, opened, img)
	opened.Close()

	_, err = source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, Transport: trusted})
	if err == nil || !strings.Contains(err.Error(), "refused access") || !strings.Contains(err.Error(), "--username") || !strings.Contains(err.Error(), "docker login") {
		t.Errorf("without credentials: %v", err)
	}

	_, err = source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, Username: testUser, Password: testPass})
	if err == nil || !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("untrusted certificate: %v", err)
	}

	opened, err = source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, Username: testUser, Password: testPass, Insecure: true})
	if err != nil {
		t.Fatalf("--insecure: %v", err)
	}
	if opened.Meta().PlainHTTP {
		t.Error("--insecure is still TLS, not plain HTTP")
	}
	checkScan(t, opened, img)
	opened.Close()
}

func TestRegistryPlainHTTP(t *testing.T) {
	r := newTestRegistry(t, false)
	img := sampleImage(t)
	ref := r.push(t, "team/app:1", img, nil)
	ctx := context.Background()
	_, err := source.Open(ctx, ref, &source.Options{Source: source.KindRegistry})
	if err == nil || !strings.Contains(err.Error(), "--plain-http") {
		t.Errorf("plain HTTP without --plain-http: %v", err)
	}
	opened, err := source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, PlainHTTP: true})
	if err != nil {
		t.Fatalf("--plain-http: %v", err)
	}
	defer opened.Close()
	if !opened.Meta().PlainHTTP {
		t.Error("Meta.PlainHTTP is false for an image pulled over plain HTTP")
	}
	checkScan(t, opened, img)
}

func TestRegistryTamperedLayer(t *testing.T) {
	r := newTestRegistry(t, false)
	img := sampleImage(t)
	ref := r.push(t, "team/app:1", img, nil)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	top, _ := layers[2].Digest()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	other := readAll(t, rc)
	r.swap[top.String()] = other // another valid layer under the top layer's digest
	opened, err := source.Open(context.Background(), ref, &source.Options{Source: source.KindRegistry, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	res, err := scan.Run(context.Background(), opened, scan.Options{Analyzers: []analyzer.Analyzer{keepFiles{}}})
	if err == nil {
		t.Fatal("a tampered layer scanned cleanly")
	}
	if !hasFinding(res, model.ClassIntegrity) {
		t.Errorf("no integrity finding: %v", err)
	}
}

func TestRegistryPlatform(t *testing.T) {
	r := newTestRegistry(t, false)
	amd, arm := sampleImage(t), armImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := r.push(t, "team/multi:1", nil, idx)
	opened, err := source.Open(context.Background(), ref, &source.Options{Source: source.KindRegistry, PlainHTTP: true, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	want, _ := arm.Digest()
	if opened.Meta().Digest != want.String() || opened.Meta().Config.Architecture != "arm64" {
		t.Errorf("picked %s (%s), want the arm64 image %s", opened.Meta().Digest, opened.Meta().Config.Architecture, want)
	}
}
