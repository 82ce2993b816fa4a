package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sirupsen/logrus"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testenv/distreg"
	"github.com/customs-scanner/customs/internal/webhook"

	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m))
}

// envelopeRecorder is an HTTP endpoint that keeps every notification
// envelope a registry posts to it.
type envelopeRecorder struct {
	srv          *httptest.Server
	mu           sync.Mutex
	bodies       [][]byte
	contentTypes []string
}

func newEnvelopeRecorder(t *testing.T) *envelopeRecorder {
	t.Helper()
	r := &envelopeRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, webhook.MaxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.contentTypes = append(r.contentTypes, req.Header.Get("Content-Type"))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// rawEvent is what the test itself reads of an event, independently of the
// parser under test, to know what the registry sent.
type rawEvent struct {
	Action string `json:"action"`
	Target struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
	} `json:"target"`
}

// events returns the events received so far, in order.
func (r *envelopeRecorder) events(t *testing.T) []rawEvent {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []rawEvent
	for _, b := range r.bodies {
		var env struct{ Events []rawEvent }
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("registry sent a body that is not an envelope: %v\n%s", err, b)
		}
		all = append(all, env.Events...)
	}
	return all
}

// waitForPush waits until an event pushing digest has arrived; the registry
// sends each endpoint's events in order, so every earlier one has too.
func (r *envelopeRecorder) waitForPush(t *testing.T, digest string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, ev := range r.events(t) {
			if ev.Action == "push" && ev.Target.Digest == digest {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no push event for %s within 30s; received %d envelopes", digest, len(r.bodies))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startInProcessRegistry serves a distribution v3 registry with in-memory
// storage that notifies notifyURL.
func startInProcessRegistry(t *testing.T, notifyURL string) string {
	t.Helper()
	logrus.SetLevel(logrus.PanicLevel)
	logrus.SetOutput(io.Discard)
	yaml := "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  inmemory: {}\n" +
		"http:\n  addr: 127.0.0.1:0\n" +
		"notifications:\n  endpoints:\n    - name: customs\n      url: " + notifyURL + "\n      timeout: 5s\n      threshold: 5\n      backoff: 200ms\n"
	cfg, err := configuration.Parse(strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("registry configuration: %v", err)
	}
	return distreg.Serve(t, handlers.NewApp(context.Background(), cfg))
}

// registryActivity is what exercise did to a registry and what a receiver
// should learn from its notifications.
type registryActivity struct {
	want      []webhook.Push // the manifest pushes, EventID left empty
	blobs     []string       // digests of blobs pushed (layers, configs, the lone blob)
	loneBlob  string         // the digest of the blob pushed last, on its own
	pulledApp bool
}

// exercise pushes an image by tag, an index (whose images go by digest),
// pulls the image back with its layers, then pushes one lone blob.
func exercise(t *testing.T, host string) registryActivity {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var act registryActivity
	ref := func(s string) name.Reference {
		r, err := name.ParseReference(host+"/"+s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	addBlobs := func(img v1.Image) {
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			act.blobs = append(act.blobs, d.String())
		}
		cfg, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		act.blobs = append(act.blobs, cfg.String())
	}

	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref("team/app:v1"), img); err != nil {
		t.Fatalf("push image: %v", err)
	}
	d, _ := img.Digest()
	mt, _ := img.MediaType()
	act.want = append(act.want, webhook.Push{Registry: host, Repository: "team/app", Digest: d.String(), Tag: "v1", MediaType: string(mt)})
	addBlobs(img)

	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref("team/multi:latest"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		child, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		act.want = append(act.want, webhook.Push{Registry: host, Repository: "team/multi", Digest: desc.Digest.String(), MediaType: string(desc.MediaType)})
		addBlobs(child)
	}
	d, _ = idx.Digest()
	mt, _ = idx.MediaType()
	act.want = append(act.want, webhook.Push{Registry: host, Repository: "team/multi", Digest: d.String(), Tag: "latest", MediaType: string(mt)})

	pulled, err := remote.Image(ref("team/app:v1"))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	layers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull layer: %v", err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("pull layer: %v", err)
		}
		rc.Close()
	}
	act.pulledApp = true

	blob, err := random.Layer(300, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host+"/team/blobs", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, blob); err != nil {
		t.Fatalf("push blob: %v", err)
	}
	bd, _ := blob.Digest()
	act.loneBlob = bd.String()
	act.blobs = append(act.blobs, act.loneBlob)
	return act
}

// checkNotifications parses every envelope rec received with
// ParseDistribution and checks that exactly the manifest pushes of act come
// out, while the registry did send pull and blob events too.
func checkNotifications(t *testing.T, rec *envelopeRecorder, act registryActivity, wantContentType string) {
	t.Helper()
	rec.waitForPush(t, act.loneBlob)

	// What the registry sent, read by the test itself: pulls and blob
	// pushes must be there, or ignoring them would prove nothing.
	var pulls, blobPushes int
	for _, ev := range rec.events(t) {
		switch {
		case ev.Action == "pull" && ev.Target.Repository == "team/app":
			pulls++
		case ev.Action == "push" && slices.Contains(act.blobs, ev.Target.Digest):
			blobPushes++
		}
	}
	if pulls == 0 || blobPushes == 0 {
		t.Fatalf("registry sent %d pull and %d blob push events; the test needs both", pulls, blobPushes)
	}

	rec.mu.Lock()
	bodies, contentTypes := rec.bodies, rec.contentTypes
	rec.mu.Unlock()
	var got []webhook.Push
	ids := map[string]bool{}
	for i, body := range bodies {
		if ct := contentTypes[i]; ct != wantContentType {
			t.Errorf("envelope %d: Content-Type %q, want %q", i, ct, wantContentType)
		}
		pushes, err := webhook.ParseDistribution(body)
		if err != nil {
			t.Fatalf("envelope %d: %v\n%s", i, err, body)
		}
		for _, p := range pushes {
			if p.EventID == "" || ids[p.EventID] {
				t.Errorf("push %+v: event id empty or repeated", p)
			}
			ids[p.EventID] = true
			p.EventID = ""
			got = append(got, p)
		}
	}
	byDigest := func(a, b webhook.Push) int { return strings.Compare(a.Repository+a.Digest, b.Repository+b.Digest) }
	slices.SortFunc(got, byDigest)
	want := slices.Clone(act.want)
	slices.SortFunc(want, byDigest)
	if !slices.Equal(got, want) {
		t.Errorf("pushes from %d envelopes:\n got %+v\nwant %+v", len(bodies), got, want)
	}
}

func TestDistributionNotificationsInProcessRegistry(t *testing.T) {
	rec := newEnvelopeRecorder(t)
	host := startInProcessRegistry(t, rec.srv.URL+"/api/v1/hooks/distribution")
	act := exercise(t, host)
	checkNotifications(t, rec, act, webhook.DistributionEnvelopeV2)
}

func TestDistributionNotificationsDebianRegistry(t *testing.T) {
	rec := newEnvelopeRecorder(t)
	reg := testenv.Registry(t, testenv.RegistryOptions{Notify: rec.srv.URL + "/api/v1/hooks/distribution"})
	act := exercise(t, reg.Host)
	checkNotifications(t, rec, act, webhook.DistributionEnvelopeV1)
}
