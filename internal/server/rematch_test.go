package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/vulndb"
	"github.com/customs-scanner/customs/internal/webhook"
)

// countingRegistry is registry with a count of the requests it answered.
func countingRegistry(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	app := registryApp(t, "")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		app.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &n
}

// newRecord is an OSV record of Debian 12's glibc that the libc6 of
// vulnerableImage is affected by, unless withdrawn.
func newRecord(withdrawn bool) []byte {
	r := map[string]any{
		"schema_version": "1.6.0", "id": "DSA-9999-1", "modified": "2026-11-01T00:00:00Z", "published": "2026-11-01T00:00:00Z",
		"upstream": []string{"CVE-2026-0001"}, "summary": "glibc - security update",
		"severity": []map[string]string{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": []map[string]any{{
			"package": map[string]string{"ecosystem": "Debian:12", "name": "glibc"},
			"ranges":  []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": "2.36-9+deb12u99"}}}},
		}},
	}
	if withdrawn {
		r["modified"], r["withdrawn"] = "2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z"
	}
	b, _ := json.Marshal(r)
	return b
}

// feed is a directory of OSV records imported as one source: importing it
// again replaces what it held.
type feed struct{ dir, db string }

func newFeed(t *testing.T) *feed {
	f := &feed{dir: t.TempDir(), db: t.TempDir()}
	base, err := os.ReadFile(filepath.Join("..", "vulndb", "testdata", "osv", "DSA-5514-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "DSA-5514-1.json", base)
	return f
}

func (f *feed) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// publish imports the feed into its working database and publishes that
// into the store, as `customs db import --data-dir/--database` does.
func (f *feed) publish(t *testing.T, st *store.Store) int64 {
	t.Helper()
	gen, err := st.BuildVulnDB(context.Background(), f.db, func() error {
		_, err := vulndb.Import(context.Background(), f.db, []string{f.dir})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// endpoint is a notification receiver that answers 500 to its first
// request and 200 to the others.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		e.mu.Lock()
		defer e.mu.Unlock()
		e.bodies = append(e.bodies, body)
		e.sigs = append(e.sigs, r.Header.Get(webhook.SignatureHeader))
		if len(e.bodies) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(e.Close)
	return e
}

// delivered waits for a successful delivery (not the first request)
// holding the event of kind about id and returns how many requests held
// it.
func (e *endpoint) delivered(t *testing.T, secret, kind, id string) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		e.mu.Lock()
		held := 0
		for i, b := range e.bodies {
			var d Delivery
			if json.Unmarshal(b, &d) != nil {
				continue
			}
			for _, ev := range d.Events {
				if ev.Kind == kind && ev.Finding.ID == id {
					if !webhook.Verify(secret, b, e.sigs[i]) {
						t.Errorf("delivery %d: signature %q does not verify", i, e.sigs[i])
					}
					held++
					if i > 0 {
						e.mu.Unlock()
						return held
					}
				}
			}
		}
		e.mu.Unlock()
	}
	t.Fatalf("no delivery of the %s event of %s", kind, id)
	return 0
}

// waitEvent waits for the event of kind about id on the image digest.
func (ts *testServer) waitEvent(t *testing.T, digest, kind, id string) store.Event {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var page EventPage
		if code := ts.call(t, "GET", "/api/v1/events?kind="+kind+"&digest="+digest, ts.read, nil, &page); code != 200 {
			t.Fatalf("events: %d", code)
		}
		for _, e := range page.Events {
			if e.Finding.ID == id {
				return e
			}
		}
	}
	t.Fatalf("no %s event of %s on %s", kind, id, digest)
	return store.Event{}
}

// TestRematchEvents: an image is scanned; a database with one new record
// affecting it is published into the store; the server re-matches the
// stored inventory without a registry request, the finding appears as a
// new event, in the image's report, summary and advisory index, and is
// delivered, signed, to a notification endpoint that failed the first
// attempt. Withdrawing the record resolves it.
func TestRematchEvents(t *testing.T) {
	reg, requests := countingRegistry(t)
	ref := reg + "/team/rematch:1"
	digest := push(t, ref, vulnerableImage(t, "rematch"))
	eachStore(t, func(t *testing.T, dsn string) {
		cfg := newConfig(t.TempDir(), dsn)
		cfg.Pipeline.Vuln.DBDir = "" // the store's
		cfg.VulnPoll = 100 * time.Millisecond
		cfg.SecretKeyFile = filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(cfg.SecretKeyFile, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
			t.Fatal(err)
		}
		ts := startWith(t, cfg)
		f := newFeed(t)
		gen := f.publish(t, ts.store)
		ts.waitGeneration(t, gen)

		const secret = "s3cret-of-the-endpoint"
		ep := newEndpoint(t)
		for body, want := range map[string]int{
			`{"url": "` + ep.URL + `", "secret": "` + secret + `", "min_severity": "high", "kinds": ["new", "resolved"]}`: 201,
			`{"url": "` + ep.URL + `"}`:                                   400,
			`{"url": "ftp://x", "secret": "a"}`:                           400,
			`{"url": "` + ep.URL + `", "secret": "a", "kinds": ["gone"]}`: 400,
		} {
			if code := ts.call(t, "POST", "/api/v1/notifications", ts.admin, []byte(body), nil); code != want {
				t.Errorf("POST %s: %d, want %d", body, code, want)
			}
		}
		if listed := ts.get(t, "/api/v1/notifications"); strings.Contains(string(listed), secret) || !strings.Contains(string(listed), ep.URL) {
			t.Errorf("notifications listed: %s", listed)
		}

		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		if st := ts.wait(t, queued.ID); st.Status != StatusSucceeded || st.Digest != digest {
			t.Fatalf("scan: %+v", st)
		}
		scanned := requests.Load()

		// One new record: the image is affected.
		f.write(t, "DSA-9999-1.json", newRecord(false))
		gen = f.publish(t, ts.store)
		ev := ts.waitEvent(t, digest, store.EventNew, "CVE-2026-0001")
		if ev.Reason != store.ReasonRematch || ev.Generation != gen || ev.Finding.Package == nil || ev.Finding.Package.Name != "libc6" ||
			ev.Finding.FixedVersion != "2.36-9+deb12u99" || ev.Finding.Severity != "CRITICAL" || ev.Scan == 0 {
			t.Errorf("new event: %+v", ev)
		}
		var adv struct {
			Images []store.Image `json:"images"`
		}
		if code := ts.call(t, "GET", "/api/v1/vulnerabilities/DSA-9999-1/images", ts.read, nil, &adv); code != 200 || len(adv.Images) != 1 ||
			adv.Images[0].Digest != digest || adv.Images[0].Summary["vulnerability"]["CRITICAL"] != 1 || adv.Images[0].LastScan != ev.Scan {
			t.Errorf("images with DSA-9999-1 after the re-match: %d %+v", code, adv)
		}
		if rep := string(ts.get(t, "/api/v1/images/"+digest+"/report")); !strings.Contains(rep, "CVE-2026-0001") || !strings.Contains(rep, "CVE-2023-4911") {
			t.Error("the latest report lacks the new finding or the old one")
		}
		var hist struct {
			Scans []store.ScanInfo `json:"scans"`
		}
		if code := ts.call(t, "GET", "/api/v1/images/"+digest+"/scans", ts.read, nil, &hist); code != 200 || len(hist.Scans) != 2 ||
			hist.Scans[0].RematchOf != hist.Scans[1].ID || hist.Scans[0].LayersWalked+hist.Scans[0].LayersCached != 0 {
			t.Errorf("history after the re-match: %d %+v", code, hist)
		}
		if n := ep.delivered(t, secret, store.EventNew, "CVE-2026-0001"); n != 2 {
			t.Errorf("the new event came in %d requests, want a failed one and its retry", n)
		}

		// The record withdrawn: the finding is resolved.
		f.write(t, "DSA-9999-1.json", newRecord(true))
		gen = f.publish(t, ts.store)
		if ev := ts.waitEvent(t, digest, store.EventResolved, "CVE-2026-0001"); ev.Generation != gen {
			t.Errorf("resolved event: %+v", ev)
		}
		ep.delivered(t, secret, store.EventResolved, "CVE-2026-0001")
		if code := ts.call(t, "GET", "/api/v1/vulnerabilities/DSA-9999-1/images", ts.read, nil, &adv); code != 200 || len(adv.Images) != 0 {
			t.Errorf("images with DSA-9999-1 after its withdrawal: %d %+v", code, adv)
		}
		var page EventPage
		if code := ts.call(t, "GET", "/api/v1/events?min_severity=critical", ts.read, nil, &page); code != 200 || page.Total != 2 {
			t.Errorf("events: %d %+v", code, page)
		}
		if code := ts.call(t, "GET", "/api/v1/events?kind=other", ts.read, nil, nil); code != 400 {
			t.Errorf("an unknown kind: %d", code)
		}
		if n := requests.Load(); n != scanned {
			t.Errorf("the registry had %d requests after the scan", n-scanned)
		}
		var ns struct {
			Notifications []store.Notification `json:"notifications"`
		}
		ts.call(t, "GET", "/api/v1/notifications", ts.read, nil, &ns)
		if len(ns.Notifications) != 1 || ns.Notifications[0].LastDelivery == nil {
			t.Fatalf("notifications: %+v", ns)
		}
		if code := ts.call(t, "DELETE", fmt.Sprintf("/api/v1/notifications/%d", ns.Notifications[0].ID), ts.admin, nil, nil); code != 204 {
			t.Errorf("delete: %d", code)
		}
		if code := ts.call(t, "DELETE", fmt.Sprintf("/api/v1/notifications/%d", ns.Notifications[0].ID), ts.admin, nil, nil); code != 404 {
			t.Errorf("delete again: %d", code)
		}
	})
}

// waitGeneration waits until scans match against the database generation
// gen.
func (ts *testServer) waitGeneration(t *testing.T, gen int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ts.pipe.VulnGeneration() != gen; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server still matches against generation %d, not %d", ts.pipe.VulnGeneration(), gen)
		}
	}
}
