package console

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

// pageData is every page's data at one size.
type pageData map[string]any

func testConsole() *Console {
	return &Console{pages: parseTemplates(), log: slog.Default()}
}

func adminPage() *Page { return &Page{Role: store.RoleAdmin, TokenName: "alice", CSRF: "csrf-token"} }

// fakeImage is the nth of a set of images.
func fakeImage(n int) store.Image {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Add(-time.Duration(n) * time.Minute)
	im := store.Image{Digest: fmt.Sprintf("sha256:%064x", n), Name: fmt.Sprintf("registry.example.com/team/app%d:%d", n%200, n), OS: "debian 12",
		Architecture: "amd64", LastScanned: at, FirstScanned: at, Packages: 120, Findings: n % 40,
		Refs:    []store.Ref{{Source: store.SourceRegistry, Repository: fmt.Sprintf("registry.example.com/team/app%d", n%200), Tag: fmt.Sprint(n), RegistryID: 1}},
		Summary: store.Summary{"vulnerability": {"HIGH": n % 7, "LOW": n % 5}}, Worst: model.High}
	if n%10 == 0 {
		im.Summary["malware"] = map[string]int{"CRITICAL": 1}
		im.Worst = model.Critical
	}
	return im
}

// fakeReport has findings of every class, and n packages and
// vulnerabilities.
func fakeReport(n int) *report.Report {
	rep := &report.Report{Artifact: report.Artifact{Name: "registry.example.com/team/app:1", Digest: fakeImage(1).Digest,
		Layers: []model.Layer{{Index: 0, DiffID: "sha256:aa", CreatedBy: "ADD rootfs.tar /", Size: 30 << 20}, {Index: 1, DiffID: "sha256:bb", CreatedBy: `RUN echo "<script>"`, Size: 1234}}}}
	for i := range n {
		pkg := model.Package{Name: fmt.Sprintf("pkg%d", i), Version: "1.0", Type: model.TypeDeb, LayerDiffID: "sha256:aa", Path: "var/lib/dpkg/status"}
		rep.Packages = append(rep.Packages, pkg)
		rep.Findings = append(rep.Findings, model.Finding{Class: model.ClassVulnerability, ID: fmt.Sprintf("CVE-2024-%05d", i), Title: "overflow",
			Severity: []model.Severity{model.Critical, model.High, model.Medium, model.Low, model.Unknown}[i%5], Package: pkg.Ref(), InstalledVersion: "1.0",
			FixedVersion: "1.1", Aliases: []string{fmt.Sprintf("DSA-%d-1", i)}, References: []string{"https://security-tracker.debian.org/x", "javascript:alert(1)"},
			Extra: map[string]string{"severity_source": "nvd/cvss_v3"}, LayerDiffID: "sha256:aa"})
	}
	if n > 0 {
		rep.Findings = append(rep.Findings,
			model.Finding{Class: model.ClassMalware, ID: "malware-eicar", Title: "EICAR anti-virus test file", Severity: model.Critical, Path: "srv/eicar.com", LayerDiffID: "sha256:bb"},
			model.Finding{Class: model.ClassSecret, ID: "aws-access-token", Title: "AWS key", Severity: model.High, Path: "app/.env", Line: 1, Match: "AKIA********", LayerDiffID: "sha256:bb"},
			model.Finding{Class: model.ClassMisconfiguration, ID: "user-root", Title: "Image runs as root", Severity: model.Medium, Extra: map[string]string{"cis": "4.1"}},
			model.Finding{Class: model.ClassIntegrity, ID: "integrity-plain-http-pull", Title: "Image pulled over plain HTTP", Severity: model.Medium})
	}
	rep.Summarize()
	return rep
}

// sizes of data every page is rendered with.
func sizes() map[string]pageData {
	out := map[string]pageData{}
	for name, n := range map[string]int{"empty": 0, "typical": 25, "10000": 10000} {
		var images []store.Image
		var rows []ImageRow
		for i := range min(n, pageSize) {
			images = append(images, fakeImage(i))
			rows = append(rows, ImageRow{Image: fakeImage(i), Scannable: i%3 != 0})
		}
		var adv []store.Image
		for i := range n {
			adv = append(adv, fakeImage(i))
		}
		var trend []store.TrendDay
		if n > 0 {
			for d := range 30 {
				trend = append(trend, store.TrendDay{Day: time.Date(2026, 11, 2+d, 0, 0, 0, 0, time.UTC),
					BySeverity: map[string]int{"CRITICAL": n / 100 * d / 30, "HIGH": n / 10, "LOW": n * d / 30}})
			}
		}
		risk := map[model.Class]map[model.Severity]int{}
		if n > 0 {
			risk[model.ClassVulnerability] = map[model.Severity]int{model.High: n / 3, model.Low: n / 4}
			risk[model.ClassMalware] = map[model.Severity]int{model.Critical: n / 10}
		}
		o := &server.Overview{Risk: risk, Riskiest: images[:min(10, len(images))], Trend: trend, Images: n,
			Queue: server.QueueStatus{Queued: n / 100, Running: min(n, 2), FailedLastDay: n / 1000}}
		if n > 0 {
			o.VulnDB = &store.VulnDBInfo{Generation: 7, Size: 80 << 20, Published: time.Now().Add(-3 * time.Hour)}
			for i := range 10 {
				o.Advisories = append(o.Advisories, store.AdvisoryCount{Advisory: fmt.Sprintf("CVE-2024-%05d", i), Images: n / (i + 1)})
			}
		}
		q := ImageQuery{Page: 1, Search: "app", HasMalware: n%2 == 0}
		ip := &ImagesPage{Page: adminPage(), Query: q, Tabs: imageTabs(q, []store.Host{{Name: "host-1"}}, []store.Registry{{ID: 1, URL: "registry.example.com"}})}
		fillImages(ip, &store.ImagePage{Images: images, Total: n, Limit: pageSize})
		im := fakeImage(1)
		var scans []store.ScanInfo
		for i := range min(n, 50) {
			scans = append(scans, store.ScanInfo{ID: int64(100 - i), Digest: im.Digest, Finished: time.Now().Add(-time.Duration(i) * time.Hour), Findings: n - i,
				Summary: store.Summary{"vulnerability": {"HIGH": n - i}}})
		}
		var jobs []server.ScanStatus
		for i := range min(n, 200) {
			fin := time.Now()
			jobs = append(jobs, server.ScanStatus{ID: int64(i + 1), Status: scanStatuses[i%len(scanStatuses)], Image: im.Name, Digest: im.Digest, Queued: fin, Started: &fin, Finished: &fin, Attempt: 1 + i%3, Error: "boom <b>"})
		}
		var regs []RegistryRow
		if n > 0 {
			last := time.Now()
			regs = append(regs, registryRow(store.Registry{ID: 1, URL: "registry.example.com", Schedule: "@daily", HasCredentials: true, LastSweep: &last,
				LastAudit: []byte(`{"api":"registry/2.0","findings":[{"class":"registry","id":"registry-plain-http","title":"Registry API answers over plain HTTP","severity":"HIGH"}]}`),
				LastStats: []byte(`{"repositories":3,"tags":9,"images":9,"queued":2}`)}))
		}
		var top []store.AdvisoryCount
		if n > 0 {
			top = o.Advisories
		}
		data := pageData{
			"signin.html":     &SigninPage{Page: &Page{Title: "Sign in", CSRF: "x"}, Next: "/images", Error: map[bool]string{true: "", false: "Unknown API token."}[n == 0]},
			"error.html":      &ErrorPage{Page: adminPage(), Code: 404, Message: "no image <x>"},
			"overview.html":   &OverviewPage{Page: adminPage(), Overview: o},
			"images.html":     ip,
			"scans.html":      &ScansPage{Page: adminPage(), Scans: jobs, Active: n > 0},
			"registries.html": &RegistriesPage{Page: adminPage(), Registries: regs, Error: "url: bad"},
			"advisories.html": &AdvisoriesPage{Page: adminPage(), Query: "CVE-2024-00001", Images: adv[:min(len(adv), maxAdvisoryImages)], More: max(0, len(adv)-maxAdvisoryImages)},
		}
		if n > 0 {
			data["registry.html"] = &RegistriesPage{Page: adminPage(), Edit: &regs[0], Form: registryForm(regs[0].Registry)}
		}
		rep := fakeReport(n)
		for _, tab := range detailTabs {
			p := adminPage()
			page := 1
			if n > 1000 {
				page = 2
			}
			pg := buildImagePage(p, &im, rep, scans, tab.key, page)
			if tab.key == "history" && n > 0 {
				pg.HasPrevious = true
				pg.Added, pg.Resolved = server.DiffFindings(rep.Findings[:n/2], rep.Findings)
			}
			data["image.html#"+tab.key] = pg
		}
		data["advisories.html#top"] = &AdvisoriesPage{Page: adminPage(), Top: top}
		var events []store.Event
		for i := range min(n, eventsPageSize) {
			f := rep.Findings[i]
			events = append(events, store.NewEvents(im.Digest, im.Name, []string{store.EventNew, store.EventResolved}[i%2],
				[]string{store.ReasonRematch, store.ReasonRescan}[i%3%2], 7, []model.Finding{f})...)
		}
		data["events.html"] = &EventsPage{Page: adminPage(), Events: events, Total: n, Kind: "new", MinSeverity: "HIGH", Digest: im.Digest, From: min(n, 1), To: len(events), Next: "/events?offset=50"}
		out[name] = data
	}
	return out
}

// TestPagesRender renders every page with no data, typical data and
// 10,000 images' worth: each renders whole, escapes what it shows, and
// keeps unsafe links out.
func TestPagesRender(t *testing.T) {
	c := testConsole()
	pages, _ := c.pages.Clone()
	var names []string
	for _, tpl := range pages.Templates() {
		if strings.HasSuffix(tpl.Name(), ".html") && tpl.Name() != "layout.html" && tpl.Name() != "registry_form.html" {
			names = append(names, tpl.Name())
		}
	}
	for size, data := range sizes() {
		rendered := map[string]bool{}
		for key, d := range data {
			name, _, _ := strings.Cut(key, "#")
			rendered[name] = true
			t.Run(size+"/"+key, func(t *testing.T) {
				rec := httptest.NewRecorder()
				t0 := time.Now()
				c.render(rec, http.StatusOK, name, d)
				took := time.Since(t0)
				body := rec.Body.String()
				if rec.Code != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
					t.Fatalf("%d, %d bytes: %.300s", rec.Code, len(body), body)
				}
				if strings.Contains(body, "<script>") || strings.Contains(body, "<b>") || strings.Contains(body, "javascript:") {
					t.Errorf("unescaped data or an unsafe link in the page")
				}
				if posts, csrf := strings.Count(body, `method="post"`), strings.Count(body, `name="csrf"`); posts != csrf {
					t.Errorf("%d forms that post, %d CSRF fields", posts, csrf)
				}
				if size == "10000" && took > 200*time.Millisecond {
					t.Logf("slow: %d bytes in %s", len(body), took)
				}
			})
		}
		if size == "typical" {
			for _, n := range names {
				if !rendered[n] {
					t.Errorf("page %s is not rendered by the test", n)
				}
			}
		}
	}
}
