package store

import (
	"context"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// TestSaveRematches: a re-match becomes the image's latest scan (findings,
// summary, advisories, events) without moving last_scanned; a re-match of
// a scan that is no longer the latest is left out; images marked current
// or removed are not stale.
func TestSaveRematches(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		pkg := &model.PackageRef{Name: "openssl", Version: "3.0.11-1~deb12u1", Type: model.TypeDeb}
		old := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2023-1", Severity: model.Low, Package: pkg}
		found := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2026-9", Aliases: []string{"DSA-9"}, Severity: model.Critical, Package: pkg}
		at := time.Now().Add(-time.Hour)
		save := func(digest, tag string) int64 {
			id, err := s.SaveScan(ctx, ScanRecord{Input: "app:" + tag, Ref: &Ref{Source: SourceRegistry, Repository: "reg/app", Tag: tag},
				Started: at, Finished: at, Report: sampleReport(digest, old), MatchedGeneration: 1})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		save("sha256:a", "a")
		save("sha256:b", "b")
		save("sha256:c", "c")
		if err := s.RemoveRef(ctx, "sha256:c", Ref{Source: SourceRegistry, Repository: "reg/app", Tag: "c"}); err != nil {
			t.Fatal(err)
		}
		stale, err := s.StaleScans(ctx, 2, "", 10)
		if err != nil || len(stale) != 2 || stale[0].Digest != "sha256:a" || stale[0].Generation != 1 {
			t.Fatalf("stale: %+v %v", stale, err)
		}
		if err := s.MarkMatched(ctx, 2, stale[1:]); err != nil {
			t.Fatal(err)
		}
		rep := sampleReport("sha256:a", found)
		r := Rematch{Of: stale[0], Worker: "w", Generation: 2, Report: rep, Batch: "rematch:1",
			Events: append(NewEvents("sha256:a", "", EventNew, ReasonRematch, 2, []model.Finding{found}),
				NewEvents("sha256:a", "", EventResolved, ReasonRematch, 2, []model.Finding{old})...)}
		ids, err := s.SaveRematches(ctx, []Rematch{r, r})
		if err != nil || ids[0] == 0 || ids[1] != 0 {
			t.Fatalf("save: %v %v (the second one is stale)", ids, err)
		}
		im, err := s.Image(ctx, "sha256:a")
		if err != nil || im.LastScan != ids[0] || im.Summary["vulnerability"]["CRITICAL"] != 1 || im.Findings != 1 || !im.LastScanned.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("image after the re-match: %+v %v", im, err)
		}
		for adv, want := range map[string]int{"DSA-9": 1, "CVE-2026-9": 1, "CVE-2023-1": 2} {
			if got, err := s.ImagesWithAdvisory(ctx, adv); err != nil || len(got) != want {
				t.Errorf("images with %s: %v %v", adv, got, err)
			}
		}
		scans, err := s.ImageScans(ctx, "sha256:a", 10)
		if err != nil || len(scans) != 2 || scans[0].RematchOf != scans[1].ID {
			t.Errorf("scans: %+v %v", scans, err)
		}
		events, total, err := s.ListEvents(ctx, EventFilter{Batch: "rematch:1"})
		if err != nil || total != 2 || events[0].Scan != ids[0] {
			t.Errorf("events: %+v %v", events, err)
		}
		if stale, err := s.StaleScans(ctx, 2, "", 10); err != nil || len(stale) != 0 {
			t.Errorf("stale after the re-match: %+v %v", stale, err)
		}
	})
}
