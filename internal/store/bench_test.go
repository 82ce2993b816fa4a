package store

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testenv"
)

// BenchmarkListImages measures GET /api/v1/images's query at 10,000
// stored images, on both stores: the first page, and a filtered page.
// It reports p50 and p99 latencies.
func BenchmarkListImages(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			dsn := ""
			if db == "postgres" {
				dsn = testenv.Postgres(b)
			}
			ctx := context.Background()
			s, err := Open(ctx, dsn, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			seed(b, s, 10000)
			if db == "postgres" { // what autovacuum does after a bulk load
				if _, err := s.Exec(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			for name, f := range map[string]ImageFilter{
				"first-page": {},
				"filtered":   {Registry: "registry.example.com", MinSeverity: map[model.Class]model.Severity{model.ClassVulnerability: model.High}, Sort: "worst"},
			} {
				b.Run(name, func(b *testing.B) {
					var lat []time.Duration
					for b.Loop() {
						t0 := time.Now()
						page, err := s.ListImages(ctx, f)
						if err != nil || len(page.Images) == 0 {
							b.Fatal(err, page)
						}
						lat = append(lat, time.Since(t0))
					}
					sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				})
			}
		})
	}
}

// seed stores n images of the registry registry.example.com, a third of
// them with a HIGH vulnerability.
func seed(b testing.TB, s *Store, n int) {
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	for i := range n {
		var fs []model.Finding
		if i%3 == 0 {
			fs = append(fs, model.Finding{Class: model.ClassVulnerability, ID: fmt.Sprintf("CVE-2024-%d", i%500), Severity: model.High,
				Package: &model.PackageRef{Name: "openssl", Type: model.TypeDeb}})
		}
		rep := sampleReport(fmt.Sprintf("sha256:%064d", i), fs...)
		if _, err := s.SaveScan(ctx, ScanRecord{Input: "x", Started: t0, Finished: t0.Add(time.Duration(i) * time.Second), Report: rep,
			Ref: &Ref{Source: SourceRegistry, Repository: fmt.Sprintf("registry.example.com/team/app%d", i%200), Tag: fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
}
