package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// sweptStats is a registry's last_stats.
func sweptStats(t *testing.T, reg store.Registry) SweepStats {
	t.Helper()
	var st SweepStats
	if err := json.Unmarshal(reg.LastStats, &st); err != nil {
		t.Fatalf("last_stats %s: %v", reg.LastStats, err)
	}
	return st
}

// waitSweep polls a registry until a sweep finished after since.
func (ts *testServer) waitSweep(t *testing.T, id int64, since time.Time) store.Registry {
	t.Helper()
	var reg store.Registry
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code := ts.call(t, "GET", fmt.Sprintf("/api/v1/registries/%d", id), ts.read, nil, &reg); code != 200 {
			t.Fatalf("registry %d: %d", id, code)
		}
		if reg.LastSweep != nil && reg.LastSweep.After(since) {
			return reg
		}
	}
	t.Fatalf("registry %d was not swept: %+v", id, reg)
	return reg
}

// sweep asks for a sweep of registry id, again while the one before is
// still marked running (a sweep is recorded before its job completes).
func (ts *testServer) sweep(t *testing.T, id int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var sw SweepStatus
		if code := ts.call(t, "POST", fmt.Sprintf("/api/v1/registries/%d/sweep", id), ts.admin, nil, &sw); code != 202 {
			t.Fatalf("sweep: %d", code)
		}
		if !sw.Duplicate {
			return
		}
	}
	t.Fatalf("registry %d: every sweep asked for was a duplicate", id)
}

// TestRegistrySweep: a registered registry is swept on its schedule and
// on demand; its images are scanned once each, and found by registry.
func TestRegistrySweep(t *testing.T) {
	reg := registry(t)
	d1 := push(t, reg+"/team/a:1", vulnerableImage(t, "a1"))
	d2 := push(t, reg+"/team/a:2", vulnerableImage(t, "a2"))
	if d := push(t, reg+"/team/b:latest", vulnerableImage(t, "a1")); d != d1 {
		t.Fatalf("the same image pushed twice has digests %s and %s", d1, d)
	}
	push(t, reg+"/other/c:1", vulnerableImage(t, "c1"))
	eachStore(t, func(t *testing.T, dsn string) {
		push(t, reg+"/team/a:2", vulnerableImage(t, "a2")) // moved below
		ts := start(t, t.TempDir(), dsn)
		body := RegistryRequest{URL: reg, PlainHTTP: true, Repositories: []string{"team/*"}, Schedule: "@every 1h"}
		if code := ts.call(t, "POST", "/api/v1/registries", "", body, nil); code != 401 {
			t.Errorf("no token: %d", code)
		}
		if code := ts.call(t, "POST", "/api/v1/registries", ts.read, body, nil); code != 403 {
			t.Errorf("read token: %d", code)
		}
		for what, bad := range map[string]RegistryRequest{
			"no url":         {},
			"a path":         {URL: reg + "/team"},
			"bad glob":       {URL: reg, Repositories: []string{"team/["}},
			"negative":       {URL: reg, Latest: -1},
			"bad cron":       {URL: reg, Schedule: "61 * * * *"},
			"too often":      {URL: reg, Schedule: "@every 1s"},
			"no key":         {URL: reg, Username: "ci", Password: "pw"},
			"half of a pair": {URL: reg, Username: "ci"},
		} {
			var e map[string]string
			if code := ts.call(t, "POST", "/api/v1/registries", ts.admin, bad, &e); code != 400 || e["error"] == "" {
				t.Errorf("%s: %d %v", what, code, e)
			}
		}

		// Scheduled: swept right away by the worker's schedule check.
		var created store.Registry
		if code := ts.call(t, "POST", "/api/v1/registries", ts.admin, body, &created); code != 201 || created.ID == 0 || created.HasCredentials {
			t.Fatalf("create: %d %+v", code, created)
		}
		first := ts.waitSweep(t, created.ID, time.Time{})
		st := sweptStats(t, first)
		if first.LastError != "" || st.Repositories != 2 || st.Tags != 3 || st.Images != 2 || st.Queued != 2 {
			t.Errorf("first sweep: error %q, stats %+v", first.LastError, st)
		}
		if first.NextSweep == nil || first.NextSweep.Sub(*first.LastSweep) != time.Hour {
			t.Errorf("next sweep %v after %v, want an hour later", first.NextSweep, first.LastSweep)
		}
		var audit sweepAudit
		if err := json.Unmarshal(first.LastAudit, &audit); err != nil || audit.API != "http://"+reg ||
			!slices.ContainsFunc(audit.Findings, func(f model.Finding) bool { return f.ID == "registry-plaintext" }) {
			t.Errorf("audit: %v %s", err, first.LastAudit)
		}

		// Both images get scanned, and are found by the registry's id.
		path := fmt.Sprintf("/api/v1/images?registry=%d", created.ID)
		var page store.ImagePage
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && page.Total < 2; time.Sleep(200 * time.Millisecond) {
			if code := ts.call(t, "GET", path, ts.read, nil, &page); code != 200 {
				t.Fatalf("images: %d", code)
			}
		}
		var got []string
		for _, im := range page.Images {
			got = append(got, im.Digest)
			var tags []string
			for _, r := range im.Refs {
				if r.RegistryID != created.ID {
					t.Errorf("%s: ref %+v, want registry %d", im.Digest, r, created.ID)
				}
				tags = append(tags, strings.TrimPrefix(r.Repository, reg+"/")+":"+r.Tag)
			}
			slices.Sort(tags)
			want := "team/a:2"
			if im.Digest == d1 {
				want = "team/a:1,team/b:latest"
			}
			if strings.Join(tags, ",") != want {
				t.Errorf("%s seen at %v, want %s", im.Digest, tags, want)
			}
			if im.Summary["vulnerability"]["HIGH"] == 0 {
				t.Errorf("%s: summary %v", im.Digest, im.Summary)
			}
		}
		slices.Sort(got)
		want := []string{d1, d2}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("images of the registry: %v, want %v", got, want)
		}

		// On demand: nothing new to scan.
		var sw SweepStatus
		if code := ts.call(t, "POST", fmt.Sprintf("/api/v1/registries/%d/sweep", created.ID), ts.admin, nil, &sw); code != 202 || sw.ID == 0 {
			t.Fatalf("sweep: %d %+v", code, sw)
		}
		second := ts.waitSweep(t, created.ID, *first.LastSweep)
		if st := sweptStats(t, second); st.Images != 2 || st.Queued != 0 {
			t.Errorf("second sweep: %+v, want 2 images and nothing queued", st)
		}
		for _, d := range want {
			var hist struct {
				Scans []store.ScanInfo `json:"scans"`
			}
			if code := ts.call(t, "GET", "/api/v1/images/"+d+"/scans", ts.read, nil, &hist); code != 200 || len(hist.Scans) != 1 {
				t.Errorf("scans of %s: %d %+v, want one", d, code, hist)
			}
		}

		// A tag moved to another image: the old reference is removed, the
		// new image queued; the image no tag points to any more leaves the
		// registry's list but keeps its history.
		d3 := push(t, reg+"/team/a:2", vulnerableImage(t, "a3"))
		ts.sweep(t, created.ID)
		moved := ts.waitSweep(t, created.ID, *second.LastSweep)
		if st := sweptStats(t, moved); moved.LastError != "" || st.Images != 2 || st.Queued != 1 || st.Removed != 1 {
			t.Errorf("sweep after a tag moved: %q %+v, want 2 images, 1 queued, 1 removed", moved.LastError, st)
		}
		want = []string{d1, d3}
		slices.Sort(want)
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			page = store.ImagePage{}
			if code := ts.call(t, "GET", path, ts.read, nil, &page); code != 200 {
				t.Fatalf("images: %d", code)
			}
			got = got[:0]
			for _, im := range page.Images {
				got = append(got, im.Digest)
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("images of the registry after a tag moved: %v, want %v", got, want)
		}
		var old store.Image
		if code := ts.call(t, "GET", "/api/v1/images/"+d2, ts.read, nil, &old); code != 200 || len(old.Refs) != 1 || old.Refs[0].RemovedAt == nil {
			t.Errorf("the image the tag left: %d %+v, want its one reference removed", code, old)
		}
		second = moved

		// Credentials: sealed in the store, never answered.
		const password = "Zq8vT3mLw9XcR2pY7nKd-sweep"
		ts.key = bytes.Repeat([]byte{7}, 32)
		body.Username, body.Password = "ci", password
		var updated store.Registry
		if code := ts.call(t, "PUT", fmt.Sprintf("/api/v1/registries/%d", created.ID), ts.admin, body, &updated); code != 200 || !updated.HasCredentials {
			t.Fatalf("put: %d %+v", code, updated)
		}
		for _, p := range []string{"/api/v1/registries", fmt.Sprintf("/api/v1/registries/%d", created.ID)} {
			if b := ts.get(t, p); bytes.Contains(b, []byte(password)) || bytes.Contains(b, []byte(`"ci"`)) {
				t.Errorf("%s answers the credentials: %s", p, b)
			}
		}
		var secret []byte
		if err := ts.store.QueryRow(context.Background(), `SELECT secret FROM registry WHERE id = ?`, created.ID).Scan(&secret); err != nil {
			t.Fatal(err)
		}
		if len(secret) == 0 || bytes.Contains(secret, []byte(password)) || bytes.Contains(secret, []byte("ci")) && bytes.Contains(secret, []byte("username")) {
			t.Errorf("the stored secret is not sealed: %q", secret)
		}
		if c, err := unseal(ts.key, secret); err != nil || c.Password != password || c.Username != "ci" {
			t.Errorf("unseal: %+v %v", c, err)
		}
		// A PUT without credentials keeps them; a sweep with them works.
		body.Username, body.Password = "", ""
		if code := ts.call(t, "PUT", fmt.Sprintf("/api/v1/registries/%d", created.ID), ts.admin, body, &updated); code != 200 || !updated.HasCredentials {
			t.Errorf("put without credentials: %d %+v", code, updated)
		}
		ts.sweep(t, created.ID)
		if third := ts.waitSweep(t, created.ID, *second.LastSweep); third.LastError != "" {
			t.Errorf("sweep with credentials: %s", third.LastError)
		}

		var list struct {
			Registries []store.Registry `json:"registries"`
		}
		if code := ts.call(t, "GET", "/api/v1/registries", ts.read, nil, &list); code != 200 || len(list.Registries) != 1 {
			t.Errorf("list: %d %+v", code, list)
		}
		if code := ts.call(t, "DELETE", fmt.Sprintf("/api/v1/registries/%d", created.ID), ts.read, nil, nil); code != 403 {
			t.Errorf("delete with a read token: %d", code)
		}
		if code := ts.call(t, "DELETE", fmt.Sprintf("/api/v1/registries/%d", created.ID), ts.admin, nil, nil); code != 204 {
			t.Errorf("delete: %d", code)
		}
		for _, p := range []string{"GET /api/v1/registries/%d", "POST /api/v1/registries/%d/sweep", "DELETE /api/v1/registries/%d"} {
			method, p, _ := strings.Cut(fmt.Sprintf(p, created.ID), " ")
			if code := ts.call(t, method, p, ts.admin, nil, nil); code != 404 {
				t.Errorf("%s %s after delete: %d", method, p, code)
			}
		}
	})
}

func TestSecretKey(t *testing.T) {
	dir := t.TempDir()
	hexKey := strings.Repeat("ab", 32)
	for name, c := range map[string]struct {
		data []byte
		mode os.FileMode
		ok   bool
	}{
		"hex":          {[]byte(hexKey + "\n"), 0o600, true},
		"raw":          {bytes.Repeat([]byte{1}, 32), 0o400, true},
		"short":        {[]byte("abc"), 0o600, false},
		"group-read":   {[]byte(hexKey), 0o640, false},
		"bad-hex-long": {[]byte(strings.Repeat("zz", 32)), 0o600, false},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, c.data, c.mode); err != nil {
			t.Fatal(err)
		}
		key, err := loadSecretKey(p)
		if (err == nil) != c.ok || (c.ok && len(key) != 32) {
			t.Errorf("%s: %x %v", name, key, err)
		}
	}
	key := bytes.Repeat([]byte{3}, 32)
	sealed, err := seal(key, credentials{Username: "u", Password: "p4ss"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := unseal(key, sealed); err != nil || c.Password != "p4ss" {
		t.Errorf("round trip: %+v %v", c, err)
	}
	if _, err := unseal(bytes.Repeat([]byte{4}, 32), sealed); err == nil {
		t.Error("another key opened the credentials")
	}
	if _, err := seal(nil, credentials{}); err == nil {
		t.Error("sealed without a key")
	}
}

func TestParseSchedule(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"": 0, "@hourly": time.Hour, "@daily": 24 * time.Hour, "@weekly": 7 * 24 * time.Hour,
		"@every 6h": 6 * time.Hour, "30m": 30 * time.Minute, " @every 90m ": 90 * time.Minute,
		"@every 1s": -1, "@every": -1, "9999h": -1, "@yearly": -1,
		"60 * * * *": -1, "* 24 * * *": -1, "0 0 30 2 *": -1, "*/0 * * * *": -1, "5-1 * * * *": -1, "a * * * *": -1,
	} {
		got, err := parseSchedule(s)
		if want < 0 {
			if err == nil {
				t.Errorf("%q: %+v, want an error", s, got)
			}
			continue
		}
		if err != nil || got.every != want {
			t.Errorf("%q: %+v %v, want %s", s, got, err, want)
		}
	}
	// Cron, in UTC: from Wednesday 2026-12-02 10:07.
	at := time.Date(2026, 12, 2, 10, 7, 30, 0, time.UTC)
	for expr, want := range map[string]string{
		"* * * * *":         "2026-12-02 10:08",
		"*/15 * * * *":      "2026-12-02 10:15",
		"0 3 * * *":         "2026-12-03 03:00",
		"30 2 * * 0":        "2026-12-06 02:30", // Sunday
		"30 2 * * 7":        "2026-12-06 02:30",
		"0 0 1 1 *":         "2027-01-01 00:00",
		"0 9 1 * 5":         "2026-12-04 09:00", // the 1st or a Friday
		"0 8-10/2,23 * * *": "2026-12-02 23:00",
		"0 0 29 2 *":        "2028-02-29 00:00",
	} {
		sched, err := parseSchedule(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if got := sched.next(at).Format("2006-01-02 15:04"); got != want {
			t.Errorf("%q after %s: %s, want %s", expr, at, got, want)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"@every 1h", "@daily", "5m", "* * * * *", "0 8-10/2,23 1 * 7"} {
		f.Add(s)
	}
	at := time.Date(2026, 12, 2, 10, 7, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := parseSchedule(s)
		if err != nil {
			return
		}
		if sched.every != 0 && (sched.every < minSchedule || sched.every > maxSchedule) {
			t.Errorf("%q: %s out of bounds", s, sched.every)
		}
		if n := sched.next(at); !sched.none() && !n.After(at) {
			t.Errorf("%q: next %s, not after %s", s, n, at)
		}
	})
}

func FuzzRegistryURL(f *testing.F) {
	for _, s := range []string{"registry.example.com", "http://127.0.0.1:5000", "https://r.io/", "a/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, _, err := registryURL(s)
		if err == nil && (host == "" || strings.ContainsAny(host, "/?#@ ")) {
			t.Errorf("%q: host %q", s, host)
		}
	})
}

// TestSweepAuditsKnownRepositories: a registry whose catalog asks for
// credentials but whose images anyone can pull is found out: the sweep
// lists it with the registry's credentials, and the audit then tries an
// anonymous pull of what the sweep found.
func TestSweepAuditsKnownRepositories(t *testing.T) {
	app := registryApp(t, "")
	const user, password = "sweeper", "Jd73-closed-catalog"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); r.URL.Path == "/v2/_catalog" && (!ok || u != user || p != password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="catalog"`)
			http.Error(w, "credentials needed", http.StatusUnauthorized)
			return
		}
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg := srv.Listener.Addr().String()
	push(t, reg+"/private/app:1", vulnerableImage(t, "closed"))

	ts := start(t, t.TempDir(), "")
	ts.key = bytes.Repeat([]byte{9}, 32)
	var created store.Registry
	body := RegistryRequest{URL: "http://" + reg, Username: user, Password: password}
	if code := ts.call(t, "POST", "/api/v1/registries", ts.admin, body, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	ts.sweep(t, created.ID)
	swept := ts.waitSweep(t, created.ID, time.Time{})
	if st := sweptStats(t, swept); swept.LastError != "" || st.Images != 1 {
		t.Fatalf("sweep: %q %+v", swept.LastError, st)
	}
	var audit sweepAudit
	if err := json.Unmarshal(swept.LastAudit, &audit); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range audit.Findings {
		ids = append(ids, f.ID)
		if f.ID == "registry-anonymous-pull" && f.Extra["images"] != "private/app:1" {
			t.Errorf("anonymous pull of %q, want private/app:1", f.Extra["images"])
		}
	}
	if !slices.Contains(ids, "registry-anonymous-pull") || slices.Contains(ids, "registry-anonymous-catalog") {
		t.Errorf("audit findings %v: want an anonymous pull and no open catalog", ids)
	}
}
