package server

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/webhook"
)

// scannedImage waits until the image digest, seen in repository, has a
// stored scan, and returns it as GET /api/v1/images lists it.
func (ts *testServer) scannedImage(t *testing.T, repository, digest string) store.Image {
	t.Helper()
	var page store.ImagePage
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code := ts.call(t, "GET", "/api/v1/images?repository="+url.QueryEscape(repository), ts.read, nil, &page); code != 200 {
			t.Fatalf("images: %d", code)
		}
		for _, im := range page.Images {
			if im.Digest == digest && im.LastScan != 0 {
				return im
			}
		}
	}
	t.Fatalf("no scan of %s in %s: %+v", digest, repository, page)
	return store.Image{}
}

// tags lists an image's tags in repository.
func tags(im store.Image, repository string) string {
	var out []string
	for _, r := range im.Refs {
		if r.Repository == repository && r.Tag != "" {
			out = append(out, r.Tag)
		}
	}
	return strings.Join(out, ",")
}

// notifications configures a registry to notify the server's
// distribution hook with an admin token.
func notifications(ts *testServer) string {
	return "notifications:\n  endpoints:\n    - name: customs\n      url: " +
		strconv.Quote(ts.url+"/api/v1/hooks/distribution?plain_http=true") +
		"\n      headers:\n        Authorization: [" + strconv.Quote("Bearer "+ts.admin) + "]" +
		"\n      timeout: 5s\n      threshold: 5\n      backoff: 200ms\n"
}

// TestDistributionHook: an image pushed to a registry that notifies the
// server is scanned, with its tag, without any other call.
func TestDistributionHook(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		reg := registryWith(t, notifications(ts))
		digest := push(t, reg+"/team/pushed:1", vulnerableImage(t, "pushed"))
		im := ts.scannedImage(t, reg+"/team/pushed", digest)
		if got := tags(im, reg+"/team/pushed"); got != "1" {
			t.Errorf("tags %q, want 1: %+v", got, im.Refs)
		}
		if im.Summary["vulnerability"]["HIGH"] == 0 {
			t.Errorf("the pushed image's scan found no HIGH vulnerability: %+v", im.Summary)
		}
	})
}

// TestDebianRegistryHook: the same with Debian's docker-registry
// (distribution 2.8, version 1 envelopes) in its own process.
func TestDebianRegistryHook(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		reg := testenv.Registry(t, testenv.RegistryOptions{
			Notify:              ts.url + "/api/v1/hooks/distribution?plain_http=true",
			NotifyAuthorization: "Bearer " + ts.admin,
		})
		repo := reg.Host + "/team/debian"
		digest := push(t, repo+":v2", vulnerableImage(t, "debian"))
		im := ts.scannedImage(t, repo, digest)
		if got := tags(im, repo); got != "v2" {
			t.Errorf("tags %q, want v2: %+v", got, im.Refs)
		}
	})
}

// TestHarborHook: a Harbor PUSH_ARTIFACT payload naming one digest under
// two tags queues one scan and records both tags.
func TestHarborHook(t *testing.T) {
	reg := registry(t)
	repo := reg + "/library/harbor"
	digest := push(t, repo+":v1", vulnerableImage(t, "harbor"))
	payload := fmt.Sprintf(`{"type":"PUSH_ARTIFACT","occur_at":1764748800,"operator":"admin","event_data":{
		"resources":[{"digest":%[1]q,"tag":"v1","resource_url":%[2]q},{"digest":%[1]q,"tag":"latest","resource_url":%[3]q}],
		"repository":{"name":"harbor","namespace":"library","repo_full_name":"library/harbor","repo_type":"private"}}}`,
		digest, repo+":v1", repo+":latest")
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		var res HookResult
		code := ts.call(t, "POST", "/api/v1/hooks/harbor?plain_http=true", ts.admin, []byte(payload), &res)
		if code != 202 || len(res.Jobs) != 1 || res.Skipped != 0 {
			t.Fatalf("harbor hook: %d %+v, want 202 with one job", code, res)
		}
		if st := ts.wait(t, res.Jobs[0]); st.Status != StatusSucceeded || st.Digest != digest || st.Image != repo+"@"+digest {
			t.Fatalf("pushed scan: %+v", st)
		}
		im := ts.scannedImage(t, repo, digest)
		if got := tags(im, repo); got != "latest,v1" && got != "v1,latest" {
			t.Errorf("tags %q, want v1 and latest: %+v", got, im.Refs)
		}
	})
}

// TestHookRefusals: hooks need an admin token, ignore what is not a
// manifest push, and refuse what is not a notification.
func TestHookRefusals(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	blobs := `{"events":[
		{"id":"e1","action":"push","target":{"mediaType":"application/octet-stream","digest":"` + d + `","repository":"team/app","url":"http://127.0.0.1:5000/v2/team/app/blobs/` + d + `"},"request":{"host":"127.0.0.1:5000"}},
		{"id":"e2","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","repository":"team/app","url":"http://127.0.0.1:5000/v2/team/app/manifests/` + d + `"},"request":{"host":"127.0.0.1:5000"}}]}`
	invalid := `{"events":[{"id":"e3","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:nope","repository":"team/app","url":"http://127.0.0.1:5000/v2/team/app/manifests/x"},"request":{"host":"127.0.0.1:5000"}}]}`
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		for _, c := range []struct {
			path, token, body string
			code, skipped     int
		}{
			{"/api/v1/hooks/distribution", "", blobs, 401, 0},
			{"/api/v1/hooks/harbor", "cst_nope", "{}", 401, 0},
			{"/api/v1/hooks/distribution", ts.read, blobs, 403, 0},
			{"/api/v1/hooks/distribution", ts.admin, blobs, 202, 0},
			{"/api/v1/hooks/distribution", ts.admin, invalid, 202, 1},
			{"/api/v1/hooks/harbor", ts.admin, `{"type":"PULL_ARTIFACT","event_data":{}}`, 202, 0},
			{"/api/v1/hooks/distribution", ts.admin, "garbage", 400, 0},
			{"/api/v1/hooks/harbor", ts.admin, `["not","an","object"]`, 400, 0},
			{"/api/v1/hooks/distribution?plain_http=perhaps", ts.admin, blobs, 400, 0},
			{"/api/v1/hooks/distribution", ts.admin, "{" + strings.Repeat(" ", webhook.MaxBody) + "}", 413, 0},
		} {
			var res HookResult
			code := ts.call(t, "POST", c.path, c.token, []byte(c.body), &res)
			if code != c.code || code == 202 && (len(res.Jobs) != 0 || res.Skipped != c.skipped) {
				t.Errorf("POST %s %.40q: %d %+v, want %d with no job and %d skipped", c.path, c.body, code, res, c.code, c.skipped)
			}
		}
		if depth, err := ts.store.QueueDepth(t.Context()); err != nil || len(depth) != 0 {
			t.Errorf("jobs queued: %+v %v", depth, err)
		}
	})
}
