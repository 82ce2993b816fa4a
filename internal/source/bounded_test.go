package source

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileLayout writes an OCI layout whose index names one manifest, and
// that manifest a configuration of configSize bytes (its blob is small:
// the size is what a hostile image claims). It returns the files by name.
func hostileLayout(configSize int64) map[string][]byte {
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	blob := func(b []byte) string {
		h := sha256.Sum256(b)
		d := hex.EncodeToString(h[:])
		files["blobs/sha256/"+d] = b
		return "sha256:" + d
	}
	cfg := blob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": configSize},
		"layers": []any{},
	})
	md := blob(man)
	files["index.json"], _ = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests":     []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man)}},
	})
	return files
}

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tarFiles(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"oci-layout", "index.json"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		tw.Write(files[name])
	}
	for name, b := range files {
		if strings.HasPrefix(name, "blobs/") {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
			tw.Write(b)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLayoutConfigurationSizeIsBounded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, hostileLayout(1<<40))
	_, err := Open(ctx, dir, &Options{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "image configuration sha256:") {
		t.Fatalf("layout with a 1 TiB configuration: %v", err)
	}
	// The same image in an OCI archive.
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, tarFiles(t, hostileLayout(1<<40)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, p, &Options{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("archive with a 1 TiB configuration: %v", err)
	}
	// A negative size would disable go-containerregistry's own bound.
	dir = t.TempDir()
	writeFiles(t, dir, hostileLayout(-1))
	if _, err := Open(ctx, dir, &Options{}); err == nil || !strings.Contains(err.Error(), "negative size") {
		t.Fatalf("layout with a configuration of size -1: %v", err)
	}
}

func TestLayoutIndexIsBounded(t *testing.T) {
	dir := t.TempDir()
	files := hostileLayout(0)
	// Valid JSON, padded past the bound.
	files["index.json"] = append(files["index.json"][:len(files["index.json"])-1], []byte(`,"x":"`+strings.Repeat("a", maxJSONBytes)+`"}`)...)
	writeFiles(t, dir, files)
	_, err := Open(context.Background(), dir, &Options{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "index.json") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("oversized index.json: %v", err)
	}
	// An oversized manifest blob, named by the index.
	files = hostileLayout(0)
	big := []byte(`{"schemaVersion":2,"x":"` + strings.Repeat("a", maxJSONBytes) + `"}`)
	h := sha256.Sum256(big)
	d := hex.EncodeToString(h[:])
	files["blobs/sha256/"+d] = big
	files["index.json"] = fmt.Appendf(nil, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}]}`, d, len(big))
	dir = t.TempDir()
	writeFiles(t, dir, files)
	_, err = Open(context.Background(), dir, &Options{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "manifest sha256:"+d) {
		t.Fatalf("oversized manifest: %v", err)
	}
}

func TestRegistryManifestIsBounded(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Write([]byte(`{"schemaVersion":2,"x":"`))
			chunk := bytes.Repeat([]byte("a"), 1<<20)
			for range 40 { // 40 MiB: more than ours, less than go-containerregistry's 100 MiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			w.Write([]byte(`"}`))
			return
		}
		w.WriteHeader(http.StatusOK) // /v2/: no authentication
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "https://") + "/team/app:1"
	_, err := Open(context.Background(), ref, &Options{Source: KindRegistry, Transport: srv.Client().Transport})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/v2/team/app/manifests/1") {
		t.Fatalf("oversized registry manifest: %v", err)
	}
}

// FuzzLayoutIndex opens an OCI layout whose index.json is arbitrary (its
// blobs are those of a small image with a hostile configuration size):
// parsing, platform selection and the size bounds must fail cleanly.
func FuzzLayoutIndex(f *testing.F) {
	for _, size := range []int64{1 << 40, -1, 0} {
		f.Add(hostileLayout(size)["index.json"])
	}
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:00","size":1}]}`))
	f.Add([]byte(`{"manifests":[{"digest":"sha256:../../etc/passwd"}]}`))
	base := hostileLayout(1 << 40)
	f.Fuzz(func(t *testing.T, index []byte) {
		dir := t.TempDir()
		files := map[string][]byte{}
		for k, v := range base {
			files[k] = v
		}
		files["index.json"] = index
		writeFiles(t, dir, files)
		img, err := Open(context.Background(), dir, &Options{Source: KindOCILayout})
		if err != nil {
			return
		}
		readLayers(t, img)
		img.Close()
	})
}
