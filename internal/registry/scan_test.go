package registry_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
)

func tarLayer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const osRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

// sharedBase pushes n repositories whose images share one base layer and
// each add a layer of their own. It returns the distinct layer digests.
func sharedBase(t *testing.T, r *testReg, n int) map[string]bool {
	t.Helper()
	base := tarLayer(t, map[string]string{"etc/os-release": osRelease})
	layers := map[string]bool{}
	for i := range n {
		img, err := mutate.AppendLayers(empty.Image, base, tarLayer(t, map[string]string{fmt.Sprintf("srv/app%d/VERSION", i): fmt.Sprint(i)}))
		if err != nil {
			t.Fatal(err)
		}
		r.push(t, fmt.Sprintf("team/svc%02d:1.%d", i, i), img)
		ls, _ := img.Layers()
		for _, l := range ls {
			d, _ := l.Digest()
			layers[d.String()] = true
		}
	}
	return layers
}

// pipeline is the image pipeline the CLI runs for each image: open from
// the registry, walk layers through the shared cache, analyse.
func pipeline(t *testing.T, cacheDir string, plain bool) registry.ScanFunc {
	c, err := cache.Open(cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	las, err := all.Layer(all.Config{Scanners: map[string]bool{all.ScannerPackage: true}})
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, ref string) (*registry.ImageResult, error) {
		img, err := source.Open(ctx, ref, &source.Options{Source: source.KindRegistry, PlainHTTP: plain})
		if err != nil {
			return nil, err
		}
		defer img.Close()
		res, err := scan.Run(ctx, img, scan.Options{Analyzers: las, Cache: c, Parallel: 1})
		if res == nil {
			return nil, err
		}
		if res.OS == nil || res.OS.Family != "debian" || res.OS.Version != "12" {
			t.Errorf("%s: OS %+v, want the base layer's Debian 12", ref, res.OS)
		}
		return &registry.ImageResult{Findings: res.Findings, LayersCached: res.LayersCached, LayersWalked: res.LayersWalked}, err
	}
}

func TestScanSharedBaseLayer(t *testing.T) {
	r := startRegistry(t, regConfig{})
	distinct := sharedBase(t, r, 30)
	cacheDir, stateDir := t.TempDir(), t.TempDir()
	var progress bytes.Buffer
	opt := registry.ScanOptions{Name: []name.Option{name.Insecure}, Parallel: 4, Scan: pipeline(t, cacheDir, true),
		StateDir: stateDir, DBVersion: "db-1", Progress: &progress}
	rep, err := registry.Scan(context.Background(), r.host, opt)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Stats
	if st.Repositories != 30 || st.Tags != 30 || st.Images != 30 || st.Scanned != 30 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.LayersWalked != len(distinct) || st.LayersCached != 60-len(distinct) {
		t.Errorf("layers walked %d cached %d; want each of the %d distinct layers walked once", st.LayersWalked, st.LayersCached, len(distinct))
	}
	if n := strings.Count(progress.String(), "\n"); n != 30 {
		t.Errorf("%d progress lines", n)
	}

	// A rerun with the same database version skips every image.
	rep, err = registry.Scan(context.Background(), r.host, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Resumed != 30 || rep.Stats.Scanned != 0 || rep.Stats.LayersWalked != 0 {
		t.Errorf("rerun stats %+v", rep.Stats)
	}
	// A new database version scans again (from the layer cache).
	opt.DBVersion = "db-2"
	opt.Repos, opt.Latest = []string{"team/svc0*"}, 1
	rep, err = registry.Scan(context.Background(), r.host, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Scanned != 10 || rep.Stats.Resumed != 0 || rep.Stats.LayersWalked != 0 || rep.Stats.LayersCached != 20 {
		t.Errorf("new database stats %+v", rep.Stats)
	}
}

// tamperProxy serves the registry through a reverse proxy that flips one
// byte of the blob with the given digest.
func tamperProxy(t *testing.T, r *testReg, digest string) string {
	t.Helper()
	u, _ := url.Parse(r.srv.URL)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || !strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+digest) {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b[len(b)/2] ^= 0xff
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestScanTamperedBlob(t *testing.T) {
	r := startRegistry(t, regConfig{})
	sharedBase(t, r, 3)
	ref, _ := name.ParseReference(r.host+"/team/svc01:1.1", name.Insecure)
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	own, _ := ls[1].Digest()
	host := tamperProxy(t, r, own.String())
	rep, err := registry.Scan(context.Background(), host, registry.ScanOptions{Name: []name.Option{name.Insecure}, Scan: pipeline(t, t.TempDir(), true)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Failed != 1 || rep.Stats.Scanned != 2 {
		t.Errorf("stats %+v, want the tampered image failed and the others scanned", rep.Stats)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Class == model.ClassIntegrity && f.Severity == model.Critical && strings.Contains(f.Extra["refs"], "team/svc01:1.1") {
			found = true
		}
	}
	for _, im := range rep.Images {
		if strings.Contains(strings.Join(im.Refs, ","), "svc01") && (im.Error == "" || im.Summary["integrity"]["CRITICAL"] == 0) {
			t.Errorf("tampered image reported as %+v", im)
		}
	}
	if !found {
		t.Errorf("no critical integrity finding for the tampered image: %+v", rep.Findings)
	}
}
