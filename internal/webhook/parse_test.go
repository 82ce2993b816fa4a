package webhook_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/webhook"
)

const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
	digestA        = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB        = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func readTestdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseDistributionCapturedSessions reads envelopes captured from the
// registries of TestDistributionNotifications*: an image pushed by tag, an
// index with its two images, a pull and a lone blob, fifteen events each.
func TestParseDistributionCapturedSessions(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []webhook.Push
	}{
		{"distribution/registry2-session.json", []webhook.Push{
			{"127.0.0.1:37795", "team/app", "sha256:ccb02c2ed9f63ef83a532248c9d0bc00abc0fb9e14a5fdb2137be27d1ccada10", "v1", dockerManifest, "c0f70fea-3dfb-442c-8319-ecc88e9191a1"},
			{"127.0.0.1:37795", "team/multi", "sha256:5e854f675b93481dfde3c87930f9f48e628fb7ef63a10c3bc2ebdce2c7b72ea9", "", dockerManifest, "f8150b95-3087-4660-8ab7-63fd22b8e7a9"},
			{"127.0.0.1:37795", "team/multi", "sha256:d3073eddf25568ce2004342a4e7c90f22c426960c8142e35c27637a127089d92", "", dockerManifest, "9a1d9237-1c9a-4dad-8734-940187914c35"},
			{"127.0.0.1:37795", "team/multi", "sha256:5ece4e7f0d85736f2d0a5e0facdd2c2a8787a97e363431d8e86b24f1e391bb5b", "latest", ociIndex, "1cc9db06-59c9-46ba-9399-1ba3d0afb6b9"},
		}},
		{"distribution/registry3-session.json", []webhook.Push{
			{"127.0.0.1:40551", "team/app", "sha256:a199689ad95cbae6919538ceeab06fa751b60e7ad3f6b93a0ae97c9cdc70f3a6", "v1", dockerManifest, "01a2382a-2418-746b-82bf-c5115a2d8591"},
			{"127.0.0.1:40551", "team/multi", "sha256:ca8776e89c2c276070e33840f6c1be756af6b08370e1fb644b683c5a0fbd0294", "", dockerManifest, "01a2382a-2425-7ac5-ab83-f220387564eb"},
			{"127.0.0.1:40551", "team/multi", "sha256:ba3cba27446ed5c152cb00a885b98bc70024872fd8e719461c79afef17780f8e", "", dockerManifest, "01a2382a-2426-72f8-a0bc-c5ce66ced9b4"},
			{"127.0.0.1:40551", "team/multi", "sha256:626fc8b6f0e94b405c83dd1c685d5ab80eb331b1b7fff91406e4d33d0865370c", "latest", ociIndex, "01a2382a-2426-7a68-826f-a5ecdbe0b9ac"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := webhook.ParseDistribution(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if ref := got[0].Reference(); ref != tc.want[0].Registry+"/team/app@"+tc.want[0].Digest {
				t.Errorf("Reference() = %q", ref)
			}
		})
	}
}

// ev builds one Distribution event as the registry writes it.
type ev struct {
	id, action, mediaType, repo, digest, tag, url, host string
}

func envelope(t *testing.T, events ...ev) []byte {
	t.Helper()
	var list []any
	for _, e := range events {
		list = append(list, map[string]any{
			"id":     e.id,
			"action": e.action,
			"target": map[string]any{"mediaType": e.mediaType, "digest": e.digest, "repository": e.repo, "tag": e.tag, "url": e.url, "size": 100},
			"request": map[string]any{
				"id": "req-" + e.id, "host": e.host, "method": "PUT", "useragent": "test",
			},
		})
	}
	b, err := json.Marshal(map[string]any{"events": list})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDistributionSelectsManifestPushes(t *testing.T) {
	body := envelope(t,
		ev{"1", "push", dockerManifest, "app", digestA, "v1", "https://reg.example.com/v2/app/manifests/" + digestA, "internal:5000"},
		ev{"2", "push", "application/octet-stream", "app", digestB, "", "https://reg.example.com/v2/app/blobs/" + digestB, "reg.example.com"},
		ev{"3", "pull", dockerManifest, "app", digestA, "v1", "https://reg.example.com/v2/app/manifests/" + digestA, "reg.example.com"},
		ev{"4", "delete", "", "app", digestA, "", "", "reg.example.com"},
		ev{"5", "mount", "application/vnd.oci.image.layer.v1.tar+gzip", "app", digestB, "", "", "reg.example.com"},
		ev{"6", "push", "application/vnd.docker.distribution.manifest.v1+prettyjws", "app", digestA, "old", "", "reg.example.com"},
		ev{"7", "push", "application/vnd.oci.image.manifest.v1+json; charset=utf-8", "org/team/app", digestB, "", "", "Reg.Example.COM:443"},
		ev{"8", "push", "application/vnd.docker.distribution.manifest.list.v2+json", "app", digestB, "multi", "", "[::1]:5000"},
		ev{"9", "push", ociIndex, "app", digestA, "", "not a url\x7f", "reg.example.com"},
	)
	got, err := webhook.ParseDistribution(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []webhook.Push{
		// The target URL's host (the registry's external address) wins
		// over the request's Host header.
		{"reg.example.com", "app", digestA, "v1", dockerManifest, "1"},
		{"reg.example.com:443", "org/team/app", digestB, "", "application/vnd.oci.image.manifest.v1+json", "7"},
		{"[::1]:5000", "app", digestB, "multi", "application/vnd.docker.distribution.manifest.list.v2+json", "8"},
		{"reg.example.com", "app", digestA, "", ociIndex, "9"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseDistributionSkipsInvalidPushes(t *testing.T) {
	body := envelope(t,
		ev{"ok", "push", dockerManifest, "app", digestA, "v1", "", "reg.example.com"},
		ev{"short-digest", "push", dockerManifest, "app", "sha256:abc", "v1", "", "reg.example.com"},
		ev{"no-algorithm", "push", dockerManifest, "app", strings.TrimPrefix(digestA, "sha256:"), "", "", "reg.example.com"},
		ev{"upper-repo", "push", dockerManifest, "Team/App", digestA, "", "", "reg.example.com"},
		ev{"climbing-repo", "push", dockerManifest, "../etc", digestA, "", "", "reg.example.com"},
		ev{"empty-repo", "push", dockerManifest, "", digestA, "", "", "reg.example.com"},
		ev{"bad-tag", "push", dockerManifest, "app", digestA, "-dash", "", "reg.example.com"},
		ev{"no-host", "push", dockerManifest, "app", digestA, "", "", ""},
		ev{"bad-host", "push", dockerManifest, "app", digestA, "", "", "reg.example.com/evil"},
		ev{"url-path-host", "push", dockerManifest, "app", digestA, "", "/v2/app/manifests/x", "bad host"},
		ev{"bare-host", "push", dockerManifest, "app", digestA, "", "", "registry"},
		ev{"ok2", "push", ociIndex, "a/b/c", digestB, "1.0", "", "localhost:5000"},
	)
	got, err := webhook.ParseDistribution(body)
	want := []webhook.Push{
		{"reg.example.com", "app", digestA, "v1", dockerManifest, "ok"},
		{"localhost:5000", "a/b/c", digestB, "1.0", ociIndex, "ok2"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if errors.Is(err, webhook.ErrRejected) {
		t.Fatalf("body rejected as a whole: %v", err)
	}
	skips := webhook.Skips(err)
	var ids []string
	for _, s := range skips {
		ids = append(ids, s.EventID)
		if s.Reason == "" || s.Index < 1 || s.Index > 10 {
			t.Errorf("skip %+v", s)
		}
	}
	wantIDs := []string{"short-digest", "no-algorithm", "upper-repo", "climbing-repo", "empty-repo", "bad-tag", "no-host", "bad-host", "url-path-host", "bare-host"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("skipped %q, want %q (err: %v)", ids, wantIDs, err)
	}
}

func TestParseDistributionRejects(t *testing.T) {
	valid := ev{"x", "push", dockerManifest, "app", digestA, "v1", "", "reg.example.com"}
	many := make([]ev, webhook.MaxEvents+1)
	for i := range many {
		many[i] = valid
	}
	large := []byte(`{"events":[],"pad":"` + strings.Repeat("a", webhook.MaxBody) + `"}`)
	for name, body := range map[string][]byte{
		"too large":            large,
		"too many events":      envelope(t, many...),
		"too many tiny events": []byte(`{"events":[` + strings.Repeat(`{},`, webhook.MaxEvents) + `{}]}`),
		"not JSON":             []byte(`{"events":[`),
		"array":                []byte(`[{"events":[]}]`),
		"null":                 []byte(`null`),
		"empty":                nil,
		"events not a list":    []byte(`{"events":{"action":"push"}}`),
		"event not an object":  []byte(`{"events":["push"]}`),
		"wrong field type":     []byte(`{"events":[{"action":["push"]}]}`),
		"trailing data":        append(envelope(t, valid), []byte(`{"events":[]}`)...),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := webhook.ParseDistribution(body)
			if !errors.Is(err, webhook.ErrRejected) || got != nil {
				t.Errorf("got %v, %v; want nil and ErrRejected", got, err)
			}
		})
	}

	// Exactly MaxEvents is fine.
	got, err := webhook.ParseDistribution(envelope(t, many[:webhook.MaxEvents]...))
	if err != nil || len(got) != webhook.MaxEvents {
		t.Errorf("MaxEvents events: %d pushes, %v", len(got), err)
	}
	// An envelope without events is no push and no error.
	for _, body := range []string{`{}`, `{"events":[]}`, `{"events":null}`, ` {"other":1}`} {
		got, err := webhook.ParseDistribution([]byte(body))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %v, %v", body, got, err)
		}
	}
}

func TestParseHarbor(t *testing.T) {
	const gw = "sha256:3f1c6a1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
	for _, tc := range []struct {
		file  string
		want  []webhook.Push // EventID checked apart
		skips []int          // indexes of dropped resources
	}{
		{"push-artifact.json", []webhook.Push{
			{Registry: "harbor.corp.example:8443", Repository: "payments/api-gateway", Digest: gw, Tag: "1.4.2"},
			{Registry: "harbor.corp.example:8443", Repository: "payments/api-gateway", Digest: gw, Tag: "stable"},
			{Registry: "harbor.corp.example:8443", Repository: "payments/api-gateway", Digest: "sha256:9b8a7c6d5e4f30211203948576abcdef0123456789abcdef0123456789abcdef"},
			{Registry: "harbor.corp.example:8443", Repository: "payments/api-gateway", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		}, nil},
		{"push-artifact-nested.json", []webhook.Push{
			{Registry: "registry.lab.internal", Repository: "platform/tools/kubectl", Digest: "sha256:aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999", Tag: "2026.12"},
		}, nil},
		{"push-artifact-invalid.json", []webhook.Push{
			{Registry: "harbor.corp.example", Repository: "web/frontend", Digest: "sha256:5555555555555555555555555555555555555555555555555555555555555555", Tag: "v5"},
		}, []int{0, 1, 2, 3}},
		{"pull-artifact.json", nil, nil},
		{"delete-artifact.json", nil, nil},
		{"scanning-completed.json", nil, nil},
		{"scanning-failed.json", nil, nil},
		{"replication.json", nil, nil},
		{"cloudevents-push.json", nil, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := readTestdata(t, filepath.Join("harbor", tc.file))
			got, err := webhook.ParseHarbor(body)
			if errors.Is(err, webhook.ErrRejected) {
				t.Fatal(err)
			}
			var skipped []int
			for _, s := range webhook.Skips(err) {
				skipped = append(skipped, s.Index)
			}
			if !slices.Equal(skipped, tc.skips) {
				t.Errorf("skipped %v, want %v (err: %v)", skipped, tc.skips, err)
			}
			ids := map[string]bool{}
			for i := range got {
				if !strings.HasPrefix(got[i].EventID, "harbor-") || ids[got[i].EventID] {
					t.Errorf("push %d: event id %q empty or repeated", i, got[i].EventID)
				}
				ids[got[i].EventID] = true
				got[i].EventID = ""
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// Harbor sends a payload again when the endpoint failed: the
			// same event ids let the receiver drop the repeat.
			again, _ := webhook.ParseHarbor(body)
			for i := range again {
				if !ids[again[i].EventID] {
					t.Errorf("event id of push %d changed on a second parse", i)
				}
			}
		})
	}
}

func TestParseHarborRejects(t *testing.T) {
	var resources []string
	for range webhook.MaxEvents + 1 {
		resources = append(resources, `{"digest":"`+digestA+`","tag":"v1","resource_url":"h.example/p/r:v1"}`)
	}
	tooMany := `{"type":"PUSH_ARTIFACT","event_data":{"resources":[` + strings.Join(resources, ",") +
		`],"repository":{"repo_full_name":"p/r"}}}`
	for name, body := range map[string]string{
		"too many resources": tooMany,
		"too large":          `{"type":"PUSH_ARTIFACT","operator":"` + strings.Repeat("x", webhook.MaxBody) + `"}`,
		"not an object":      `"PUSH_ARTIFACT"`,
		"resources object":   `{"type":"PUSH_ARTIFACT","event_data":{"resources":{}}}`,
		"occur_at string":    `{"type":"PUSH_ARTIFACT","occur_at":"yesterday"}`,
		"truncated":          `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"digest":`,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := webhook.ParseHarbor([]byte(body))
			if !errors.Is(err, webhook.ErrRejected) || got != nil {
				t.Errorf("got %v, %v; want nil and ErrRejected", got, err)
			}
		})
	}
	// Without repo_full_name, namespace/name names the repository.
	got, err := webhook.ParseHarbor([]byte(`{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"digest":"` + digestA +
		`","tag":"v1","resource_url":"h.example/p/r:v1"}],"repository":{"name":"r","namespace":"p"}}}`))
	if err != nil || len(got) != 1 || got[0].Repository != "p/r" || got[0].Registry != "h.example" {
		t.Errorf("namespace/name: %+v, %v", got, err)
	}
}
