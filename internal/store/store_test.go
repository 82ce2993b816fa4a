package store

import (
	"context"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// eachStore runs fn on a migrated embedded store and on a migrated
// PostgreSQL database.
func eachStore(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, open(t, "", t.TempDir())) })
	t.Run("postgres", func(t *testing.T) { fn(t, open(t, testenv.Postgres(t), "")) })
}

func open(t *testing.T, database, dir string) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, database, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func sampleReport(digest string, findings ...model.Finding) *report.Report {
	rep := &report.Report{
		SchemaVersion: "1",
		Artifact:      report.Artifact{Input: "localhost:5000/team/app:1", Source: "registry", Name: "localhost:5000/team/app:1", Digest: digest, OS: &model.OS{Family: "debian", Version: "12"}},
		Packages:      []model.Package{{Name: "openssl", Version: "3.0.11-1~deb12u1", Type: model.TypeDeb}},
		Findings:      findings,
	}
	rep.Summarize()
	return rep
}

func TestMigrate(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 { // again, and at once: nothing to do, no error
			wg.Add(1)
			go func() { defer wg.Done(); errs <- s.Migrate(ctx) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var v int
		if err := s.QueryRow(ctx, `SELECT MAX(version) FROM customs_migration`).Scan(&v); err != nil || v != SchemaVersion() {
			t.Fatalf("schema version %d (%v), want %d", v, err, SchemaVersion())
		}
		if _, err := s.Exec(ctx, `INSERT INTO customs_migration(version, name, applied) VALUES(?, 'future', 0)`, SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err == nil {
			t.Fatal("a database of a newer schema was accepted")
		}
	})
}

func TestScansAndImages(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		vuln := model.Finding{Class: model.ClassVulnerability, ID: "DSA-5532-1", Aliases: []string{"CVE-2023-5363"}, Severity: model.High,
			Package: &model.PackageRef{Name: "openssl", Type: model.TypeDeb}}
		secret := model.Finding{Class: model.ClassSecret, ID: "aws-access-key", Severity: model.Critical, Path: "/app/.env"}
		ref := &Ref{Source: SourceRegistry, Repository: "localhost:5000/team/app", Tag: "1"}
		t0 := time.Now().Add(-time.Hour).UTC()
		first := sampleReport("sha256:aaa", vuln)
		if _, err := s.SaveScan(ctx, ScanRecord{JobID: 7, Input: "localhost:5000/team/app:1", Worker: "w1", Ref: ref, Started: t0, Finished: t0, Report: first}); err != nil {
			t.Fatal(err)
		}
		second := sampleReport("sha256:aaa", vuln, secret)
		id, err := s.SaveScan(ctx, ScanRecord{JobID: 8, Input: "localhost:5000/team/app:1", Ref: ref, Started: t0, Finished: t0.Add(time.Minute), LayersWalked: 3, LayersCached: 2, Report: second})
		if err != nil {
			t.Fatal(err)
		}
		other := sampleReport("sha256:bbb")
		other.Artifact.Source, other.Artifact.Name = "docker", "busybox:latest"
		if _, err := s.SaveScan(ctx, ScanRecord{Input: "busybox", Ref: &Ref{Source: SourceDocker, Host: "h1", Repository: "busybox", Tag: "latest"}, Started: t0, Finished: t0, Report: other}); err != nil {
			t.Fatal(err)
		}

		got, err := s.LatestReport(ctx, "sha256:aaa")
		if err != nil || len(got.Findings) != 2 || got.Artifact.Digest != "sha256:aaa" {
			t.Fatalf("latest report: %v %+v", err, got)
		}
		if old, err := s.ScanReport(ctx, "sha256:aaa", id-1); err != nil || len(old.Findings) != 1 {
			t.Fatalf("first scan's report: %v", err)
		}
		if si, err := s.ScanOfJob(ctx, 8); err != nil || si.ID != id || si.LayersCached != 2 || si.Summary["secret"]["CRITICAL"] != 1 {
			t.Fatalf("scan of job 8: %+v %v", si, err)
		}
		if scans, err := s.ImageScans(ctx, "sha256:aaa", 10); err != nil || len(scans) != 2 || scans[0].ID != id {
			t.Fatalf("history: %+v %v", scans, err)
		}

		list := func(f ImageFilter) []string {
			t.Helper()
			page, err := s.ListImages(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var ds []string
			for _, im := range page.Images {
				ds = append(ds, im.Digest)
			}
			if page.Total != len(ds) {
				t.Errorf("%+v: total %d, listed %d", f, page.Total, len(ds))
			}
			return ds
		}
		for _, c := range []struct {
			f    ImageFilter
			want []string
		}{
			{ImageFilter{Sort: "name"}, []string{"sha256:bbb", "sha256:aaa"}},
			{ImageFilter{Source: SourceDocker}, []string{"sha256:bbb"}},
			{ImageFilter{Host: "h1"}, []string{"sha256:bbb"}},
			{ImageFilter{Registry: "localhost:5000"}, []string{"sha256:aaa"}},
			{ImageFilter{Repository: "localhost:5000/team/app", Tag: "1"}, []string{"sha256:aaa"}},
			{ImageFilter{HasSecrets: true}, []string{"sha256:aaa"}},
			{ImageFilter{HasMalware: true}, nil},
			{ImageFilter{MinSeverity: map[model.Class]model.Severity{model.ClassVulnerability: model.Critical}}, nil},
			{ImageFilter{MinSeverity: map[model.Class]model.Severity{model.ClassVulnerability: model.High}}, []string{"sha256:aaa"}},
			{ImageFilter{MinSeverity: map[model.Class]model.Severity{"": model.Critical}}, []string{"sha256:aaa"}},
			{ImageFilter{Search: "team/"}, []string{"sha256:aaa"}},
			{ImageFilter{Search: "%"}, nil},
		} {
			if got := list(c.f); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%+v: %v, want %v", c.f, got, c.want)
			}
		}
		im, err := s.Image(ctx, "sha256:aaa")
		if err != nil || im.Worst != model.Critical || im.Summary["vulnerability"]["HIGH"] != 1 || len(im.Refs) != 1 || im.LastScan != id || im.OS != "debian 12" {
			t.Fatalf("image: %+v %v", im, err)
		}
		for _, adv := range []string{"DSA-5532-1", "cve-2023-5363"} {
			if ds, err := s.ImagesWithAdvisory(ctx, adv); err != nil || !reflect.DeepEqual(ds, []string{"sha256:aaa"}) {
				t.Errorf("images with %s: %v %v", adv, ds, err)
			}
		}
		if by, err := s.ImagesByWorst(ctx); err != nil || by["CRITICAL"] != 1 || by["NONE"] != 1 {
			t.Errorf("by worst: %v %v", by, err)
		}

		// The host no longer holds busybox: it is marked, not dropped.
		if n, err := s.RemoveRefs(ctx, SourceDocker, "h1", nil); err != nil || n != 1 {
			t.Fatalf("remove: %d %v", n, err)
		}
		if got := list(ImageFilter{Host: "h1"}); got != nil {
			t.Errorf("removed image listed: %v", got)
		}
		page, err := s.ListImages(ctx, ImageFilter{Host: "h1", IncludeRemoved: true})
		if err != nil || len(page.Images) != 1 || !page.Images[0].Removed || page.Images[0].Refs[0].RemovedAt == nil {
			t.Fatalf("removed image: %+v %v", page, err)
		}
		if err := s.SeeRef(ctx, "sha256:bbb", Ref{Source: SourceDocker, Host: "h1", Repository: "busybox", Tag: "latest"}); err != nil {
			t.Fatal(err)
		}
		if got := list(ImageFilter{Host: "h1"}); len(got) != 1 {
			t.Errorf("image seen again not listed: %v", got)
		}
		if n, err := s.PruneScans(ctx, 1); err != nil || n != 1 {
			t.Errorf("prune: %d %v", n, err)
		}
		if _, err := s.LatestReport(ctx, "sha256:aaa"); err != nil {
			t.Errorf("latest scan pruned: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tok, err := s.CreateToken(ctx, RoleAdmin, "ci")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Authenticate(ctx, tok); err != nil || got.Role != RoleAdmin || got.Name != "ci" {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		if _, err := s.Authenticate(ctx, tok+"x"); err != ErrNotFound {
			t.Fatalf("wrong token: %v", err)
		}
		if _, err := s.CreateToken(ctx, "root", ""); err == nil {
			t.Fatal("unknown role accepted")
		}
		var stored string
		if err := s.QueryRow(ctx, `SELECT hash FROM api_token`).Scan(&stored); err != nil || stored == tok {
			t.Fatalf("token kept in clear: %v", err)
		}
	})
}

// TestMigrateGap: a version numbered below one already applied (written
// side by side, landed later) is still applied.
func TestMigrateGap(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	newest := SchemaVersion()
	if _, err := s.Exec(ctx, `CREATE TABLE customs_migration(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, `INSERT INTO customs_migration VALUES(?, 'newest', 0)`, newest); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM customs_migration`).Scan(&n); err != nil || n != len(mustMigrations(t)) {
		t.Fatalf("%d versions applied (%v), want %d", n, err, len(mustMigrations(t)))
	}
	if _, err := s.Exec(ctx, `SELECT COUNT(*) FROM image`); err != nil {
		t.Fatalf("the first version was not applied: %v", err)
	}
}

func mustMigrations(t *testing.T) []migration {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
