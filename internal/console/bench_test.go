package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

// BenchmarkImagesPage measures the image list page's server time (the
// store's listing and the rendering) at 10,000 images in the embedded
// store, for the first page and for a filtered, sorted page; it reports
// p50 and p99.
func BenchmarkImagesPage(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	for i := range 10000 {
		rep := &report.Report{Artifact: report.Artifact{Name: fmt.Sprintf("registry.example.com/team/app%d:%d", i%200, i), Source: "registry",
			Digest: fmt.Sprintf("sha256:%064d", i), OS: &model.OS{Family: "debian", Version: "12"}}}
		rep.Findings = append(rep.Findings, model.Finding{Class: model.ClassVulnerability, ID: fmt.Sprintf("CVE-2024-%d", i%500), Severity: model.High})
		if i%10 == 0 {
			rep.Findings = append(rep.Findings, model.Finding{Class: model.ClassMalware, ID: "malware-eicar", Severity: model.Critical})
		}
		if _, err := st.SaveScan(ctx, store.ScanRecord{Input: "x", Started: t0, Finished: t0.Add(time.Duration(i) * time.Second), Report: rep,
			Ref: &store.Ref{Source: store.SourceRegistry, Repository: fmt.Sprintf("registry.example.com/team/app%d", i%200), Tag: fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	token, err := st.CreateToken(ctx, store.RoleAdmin, "bench")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := st.Authenticate(ctx, token)
	if err != nil {
		b.Fatal(err)
	}
	secret, err := st.CreateSession(ctx, tok, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	c := &Console{st: st, pages: parseTemplates(), log: testConsole().log}
	c.routes()
	for name, path := range map[string]string{"first-page": "/images", "filtered": "/images?q=app1&malware=1&sort=worst&page=2"} {
		b.Run(name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: secret})
				rec := httptest.NewRecorder()
				start := time.Now()
				c.ServeHTTP(rec, req)
				lat = append(lat, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
