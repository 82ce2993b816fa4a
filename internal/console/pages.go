package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

// flashes are the messages an action's redirect may ask a page to show.
var flashes = map[string]string{
	"scan":   "Scan queued.",
	"cancel": "Scan canceled.",
	"retry":  "Scan queued again.",
	"saved":  "Registry saved.",
	"sweep":  "Sweep queued: its scans appear on the Scans page.",
}

// done redirects after an action (post, redirect, get).
func done(w http.ResponseWriter, r *http.Request, to, flash string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+flash, http.StatusSeeOther)
}

// OverviewPage is the overview.
type OverviewPage struct {
	*Page
	*server.Overview
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, p *Page) {
	o, err := c.srv.Overview(r.Context())
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	p.Title, p.Nav = "Overview", "overview"
	c.render(w, http.StatusOK, "overview.html", &OverviewPage{Page: p, Overview: o})
}

// Tab is one tab of a page.
type Tab struct {
	Label, URL string
	Current    bool
}

// ImageRow is one image of the list.
type ImageRow struct {
	store.Image
	// Scannable is true when a registry holds the image: the API scans
	// registry references only (local images are their watch's).
	Scannable bool
}

// ImagesPage is the image list.
type ImagesPage struct {
	*Page
	Query    ImageQuery
	Tabs     []Tab
	Rows     []ImageRow
	Total    int
	From, To int
	Prev     string
	Next     string
	Error    string
}

func (c *Console) images(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title, p.Nav = "Images", "images"
	q, f, err := parseImageQuery(r.URL.Query())
	if err != nil {
		c.fail(w, r, p, http.StatusBadRequest, err)
		return
	}
	pg := &ImagesPage{Page: p, Query: q}
	hosts, err := c.st.Hosts(r.Context())
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	regs, err := c.st.Registries(r.Context())
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	pg.Tabs = imageTabs(q, hosts, regs)
	list, err := c.st.ListImages(r.Context(), f)
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	fillImages(pg, list)
	c.render(w, http.StatusOK, "images.html", pg)
}

// imageTabs are the list's tabs: every image, each watching host, each
// registry.
func imageTabs(q ImageQuery, hosts []store.Host, regs []store.Registry) []Tab {
	tabs := []Tab{{Label: "All images", URL: q.TabURL(""), Current: q.Tab == ""}}
	for _, h := range hosts {
		t := "host:" + h.Name
		tabs = append(tabs, Tab{Label: "Local: " + h.Name, URL: q.TabURL(t), Current: q.Tab == t})
	}
	for _, reg := range regs {
		t := fmt.Sprintf("registry:%d", reg.ID)
		tabs = append(tabs, Tab{Label: "Registry: " + reg.URL, URL: q.TabURL(t), Current: q.Tab == t})
	}
	return tabs
}

// fillImages puts a page of the listing into the list's page.
func fillImages(pg *ImagesPage, list *store.ImagePage) {
	pg.Total = list.Total
	for _, im := range list.Images {
		row := ImageRow{Image: im}
		for _, ref := range im.Refs {
			row.Scannable = row.Scannable || ref.Source == store.SourceRegistry && ref.RemovedAt == nil
		}
		pg.Rows = append(pg.Rows, row)
	}
	if len(pg.Rows) > 0 {
		pg.From, pg.To = list.Offset+1, list.Offset+len(pg.Rows)
	}
	if pg.Query.Page > 1 {
		pg.Prev = pg.Query.PageURL(pg.Query.Page - 1)
	}
	if list.Offset+len(list.Images) < list.Total {
		pg.Next = pg.Query.PageURL(pg.Query.Page + 1)
	}
}

// maxSelection bounds the images one "scan now" queues.
const maxSelection = 100

// scanImages queues a scan of the image of the row's button, or of every
// selected one, through the API's code (server.QueueScan).
func (c *Console) scanImages(w http.ResponseWriter, r *http.Request, p *Page) {
	digests := r.PostForm["image"]
	if one := r.PostForm.Get("one"); one != "" {
		digests = []string{one}
	}
	if len(digests) == 0 || len(digests) > maxSelection {
		c.fail(w, r, p, http.StatusBadRequest, fmt.Errorf("select 1 to %d images to scan", maxSelection))
		return
	}
	for _, d := range digests {
		req, err := c.scanRequest(r, d)
		if err == nil {
			_, _, err = c.srv.QueueScan(r.Context(), req)
		}
		var in *server.InputError
		switch {
		case errors.As(err, &in), errors.Is(err, store.ErrNotFound):
			c.fail(w, r, p, http.StatusBadRequest, fmt.Errorf("%s: %v", short(d), err))
			return
		case err != nil:
			c.fail(w, r, p, http.StatusInternalServerError, err)
			return
		}
	}
	done(w, r, "/scans", "scan")
}

// scanRequest is the API request that scans the image digest where a
// registry holds it, with that registry's settings: a reference a sweep
// recorded names its registry, another one is matched to a registry by
// its host.
func (c *Console) scanRequest(r *http.Request, digest string) (server.ScanRequest, error) {
	im, err := c.st.Image(r.Context(), digest)
	if err != nil {
		return server.ScanRequest{}, err
	}
	regs, err := c.st.Registries(r.Context())
	if err != nil {
		return server.ScanRequest{}, err
	}
	var best *server.ScanRequest
	for _, ref := range im.Refs {
		if ref.Source != store.SourceRegistry || ref.RemovedAt != nil || ref.Repository == "" {
			continue
		}
		req := server.ScanRequest{Image: ref.Repository + "@" + im.Digest}
		for _, reg := range regs {
			if reg.ID == ref.RegistryID || ref.RegistryID == 0 && strings.HasPrefix(ref.Repository, reg.URL+"/") {
				req.PlainHTTP, req.Insecure = reg.PlainHTTP, reg.Insecure
				return req, nil
			}
		}
		if best == nil {
			best = &req
		}
	}
	if best == nil {
		return server.ScanRequest{}, &server.InputError{Err: errors.New("no registry holds this image: a host's watch rescans local images")}
	}
	return *best, nil
}

// LayerRow is one layer of an image and what it introduced.
type LayerRow struct {
	model.Layer
	Packages, Findings int
	// Names are the first packages it introduced, Worst its worst findings.
	Names []string
	Worst []model.Finding
}

// layerShown is how many packages and findings a layer's row names.
const layerShown = 5

// HistoryRow is one scan of an image with the change from the one before.
type HistoryRow struct {
	store.ScanInfo
	// Delta is the change of findings per severity from the previous scan.
	Delta map[string]int
}

// ImagePage is an image's detail.
type ImagePage struct {
	*Page
	Image  *store.Image
	Report *report.Report
	Tab    string
	Tabs   []Tab
	// Counts is the number of findings per tab.
	Counts map[string]int
	// Worst are the 10 worst findings.
	Worst    []model.Finding
	Findings []model.Finding
	Packages []model.Package
	Layers   []LayerRow
	// LayerIndex maps a layer's diff ID to its index.
	LayerIndex map[string]int
	History    []HistoryRow
	// Added and Resolved are the findings of the latest scan not in the
	// one before, and those of the one before not in it.
	Added, Resolved []model.Finding
	HasPrevious     bool
	Downloads       []Tab
	// From and To number the findings or packages shown of Total; Prev
	// and Next are the tab's other pages.
	From, To, Total int
	Prev, Next      string
}

// detailPageSize is how many findings or packages a tab shows at once.
const detailPageSize = 250

// imageTabs of the detail page and the classes each shows.
var detailTabs = []struct {
	key, label string
	class      model.Class
}{
	{"summary", "Summary", ""},
	{"vulnerabilities", "Vulnerabilities", model.ClassVulnerability},
	{"malware", "Malware", model.ClassMalware},
	{"secrets", "Secrets", model.ClassSecret},
	{"configuration", "Configuration", model.ClassMisconfiguration},
	{"other", "Registry, integrity, archive", ""},
	{"packages", "Packages", ""},
	{"layers", "Layers", ""},
	{"history", "History", ""},
}

// worseFirst sorts findings by severity, worst first, then class and id.
func worseFirst(fs []model.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.ID < b.ID
	})
}

func (c *Console) image(w http.ResponseWriter, r *http.Request, p *Page) {
	digest := r.PathValue("digest")
	ctx := r.Context()
	im, err := c.st.Image(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no image %s", digest))
		return
	}
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	rep, err := c.st.LatestReport(ctx, digest)
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	scans, err := c.st.ImageScans(ctx, digest, 50)
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	tab := r.URL.Query().Get("tab")
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 || page > maxPage {
			c.fail(w, r, p, http.StatusBadRequest, fmt.Errorf("page %q: want 1 to %d", v, maxPage))
			return
		}
	}
	pg := buildImagePage(p, im, rep, scans, tab, page)
	if pg == nil {
		c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no tab %q", tab))
		return
	}
	if pg.Tab == "history" && len(scans) > 1 {
		prev, err := c.st.ScanReport(ctx, digest, scans[1].ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			c.fail(w, r, p, http.StatusInternalServerError, err)
			return
		}
		if prev != nil {
			pg.HasPrevious = true
			pg.Added, pg.Resolved = server.DiffFindings(prev.Findings, rep.Findings)
			worseFirst(pg.Added)
			worseFirst(pg.Resolved)
		}
	}
	c.render(w, http.StatusOK, "image.html", pg)
}

// buildImagePage lays out page (from 1) of tab of an image's report (nil:
// no such tab).
func buildImagePage(p *Page, im *store.Image, rep *report.Report, scans []store.ScanInfo, tab string, page int) *ImagePage {
	if tab == "" {
		tab = "summary"
	}
	p.Title, p.Nav = refName(*im), "images"
	pg := &ImagePage{Page: p, Image: im, Report: rep, Tab: tab, Counts: map[string]int{}, LayerIndex: map[string]int{}}
	base := "/images/" + url.PathEscape(im.Digest)
	known := false
	for _, t := range detailTabs {
		n := 0
		for _, f := range rep.Findings {
			if t.class != "" && f.Class == t.class || t.key == "other" && (f.Class == model.ClassRegistry || f.Class == model.ClassIntegrity || f.Class == model.ClassArchive) {
				n++
			}
		}
		switch t.key {
		case "summary":
			n = len(rep.Findings)
		case "packages":
			n = len(rep.Packages)
		case "layers":
			n = len(rep.Artifact.Layers)
		case "history":
			n = len(scans)
		}
		pg.Counts[t.key] = n
		u := base
		if t.key != "summary" {
			u += "?tab=" + t.key
		}
		pg.Tabs = append(pg.Tabs, Tab{Label: t.label, URL: u, Current: t.key == tab})
		if t.key == tab {
			known = true
			for _, f := range rep.Findings {
				if t.class != "" && f.Class == t.class || t.key == "other" && (f.Class == model.ClassRegistry || f.Class == model.ClassIntegrity || f.Class == model.ClassArchive) {
					pg.Findings = append(pg.Findings, f)
				}
			}
		}
	}
	if !known {
		return nil
	}
	worseFirst(pg.Findings)
	if tab != "summary" {
		pg.Findings = pageOf(pg, pg.Findings, base+"?tab="+tab, page)
	}
	for _, l := range rep.Artifact.Layers {
		pg.LayerIndex[l.DiffID] = l.Index
	}
	switch tab {
	case "summary":
		pg.Worst = append([]model.Finding(nil), rep.Findings...)
		worseFirst(pg.Worst)
		pg.Worst = pg.Worst[:min(10, len(pg.Worst))]
	case "packages":
		pg.Packages = pageOf(pg, rep.Packages, base+"?tab="+tab, page)
	case "layers":
		for _, l := range rep.Artifact.Layers {
			row := LayerRow{Layer: l}
			for _, pk := range rep.Packages {
				if pk.LayerDiffID == l.DiffID {
					row.Packages++
					if len(row.Names) < layerShown {
						row.Names = append(row.Names, pk.Name+" "+pk.Version)
					}
				}
			}
			for _, f := range rep.Findings {
				if f.LayerDiffID == l.DiffID {
					row.Findings++
					row.Worst = append(row.Worst, f)
				}
			}
			worseFirst(row.Worst)
			row.Worst = row.Worst[:min(layerShown, len(row.Worst))]
			pg.Layers = append(pg.Layers, row)
		}
	case "history":
		for i, s := range scans {
			row := HistoryRow{ScanInfo: s, Delta: map[string]int{}}
			if i+1 < len(scans) {
				for _, sev := range severities {
					d := sevTotal(s.Summary, string(sev)) - sevTotal(scans[i+1].Summary, string(sev))
					if d != 0 {
						row.Delta[string(sev)] = d
					}
				}
			}
			pg.History = append(pg.History, row)
		}
	}
	for _, f := range []string{"json", "sarif", "cyclonedx", "spdx"} {
		pg.Downloads = append(pg.Downloads, Tab{Label: f, URL: "/api/v1" + base + "/report?format=" + f})
	}
	return pg
}

// pageOf is page n of list, setting pg's counts and links to the pages
// around it at u.
func pageOf[T any](pg *ImagePage, list []T, u string, n int) []T {
	from := min((n-1)*detailPageSize, len(list))
	to := min(from+detailPageSize, len(list))
	pg.Total = len(list)
	if to > from {
		pg.From, pg.To = from+1, to
	}
	if n > 1 {
		pg.Prev = fmt.Sprintf("%s&page=%d", u, n-1)
	}
	if to < len(list) {
		pg.Next = fmt.Sprintf("%s&page=%d", u, n+1)
	}
	return list[from:to]
}

func sevTotal(s store.Summary, sev string) int {
	n := 0
	for _, by := range s {
		n += by[sev]
	}
	return n
}

// ScansPage lists scan jobs.
type ScansPage struct {
	*Page
	Status string
	Tabs   []Tab
	Scans  []server.ScanStatus
	// Active is true while the queue holds unfinished jobs.
	Active bool
}

var scanStatuses = []string{server.StatusQueued, server.StatusRunning, server.StatusSucceeded, server.StatusFailed, server.StatusCanceled}

func (c *Console) scans(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title, p.Nav = "Scans", "scans"
	status := r.URL.Query().Get("status")
	list, err := c.srv.ListScans(r.Context(), status, 200)
	var in *server.InputError
	if errors.As(err, &in) {
		c.fail(w, r, p, http.StatusBadRequest, err)
		return
	}
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	pg := &ScansPage{Page: p, Status: status, Scans: list, Tabs: []Tab{{Label: "All", URL: "/scans", Current: status == ""}}}
	for _, s := range scanStatuses {
		pg.Tabs = append(pg.Tabs, Tab{Label: s, URL: "/scans?status=" + s, Current: s == status})
	}
	// Sweeps queue scans: the list follows the queue while it holds jobs.
	depth, err := c.st.QueueDepth(r.Context())
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	pg.Active = len(depth) > 0
	c.render(w, http.StatusOK, "scans.html", pg)
}

func (c *Console) scanAction(w http.ResponseWriter, r *http.Request, p *Page, act func(id int64) error, flash string) {
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		err = act(id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no scan %s", r.PathValue("id")))
	case err != nil:
		c.fail(w, r, p, http.StatusInternalServerError, err)
	default:
		done(w, r, "/scans", flash)
	}
}

func (c *Console) cancelScan(w http.ResponseWriter, r *http.Request, p *Page) {
	c.scanAction(w, r, p, func(id int64) error { _, err := c.srv.CancelScan(r.Context(), id); return err }, "cancel")
}

func (c *Console) retryScan(w http.ResponseWriter, r *http.Request, p *Page) {
	c.scanAction(w, r, p, func(id int64) error { _, err := c.srv.RetryScan(r.Context(), id); return err }, "retry")
}

// Audit is a registry's latest audit, as the API answers it.
type Audit struct {
	API      string          `json:"api"`
	Findings []model.Finding `json:"findings"`
	Error    string          `json:"error"`
}

// SweepStats is a registry's latest sweep's counts, as the API answers them.
type SweepStats struct {
	Repositories int      `json:"repositories"`
	Tags         int      `json:"tags"`
	Images       int      `json:"images"`
	Queued       int      `json:"queued"`
	Errors       []string `json:"errors"`
}

// RegistryRow is a registry with its latest sweep read.
type RegistryRow struct {
	store.Registry
	Audit *Audit
	Stats *SweepStats
}

// RegistryForm is the registry form's values.
type RegistryForm struct {
	server.RegistryRequest
	Repositories, Tags string
}

// RegistriesPage lists registries, or shows one with its form.
type RegistriesPage struct {
	*Page
	Registries []RegistryRow
	// Edit is the registry the form edits (nil: a new one).
	Edit  *RegistryRow
	Form  RegistryForm
	Error string
}

func registryRow(reg store.Registry) RegistryRow {
	row := RegistryRow{Registry: reg}
	if len(reg.LastAudit) > 0 {
		var a Audit
		if json.Unmarshal(reg.LastAudit, &a) == nil {
			worseFirst(a.Findings)
			row.Audit = &a
		}
	}
	if len(reg.LastStats) > 0 {
		var s SweepStats
		if json.Unmarshal(reg.LastStats, &s) == nil {
			row.Stats = &s
		}
	}
	return row
}

func registryForm(reg store.Registry) RegistryForm {
	return RegistryForm{
		RegistryRequest: server.RegistryRequest{URL: reg.URL, PlainHTTP: reg.PlainHTTP, Insecure: reg.Insecure, Latest: reg.Latest, Schedule: reg.Schedule},
		Repositories:    strings.Join(reg.Repositories, "\n"), Tags: strings.Join(reg.Tags, "\n"),
	}
}

func (c *Console) registries(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title, p.Nav = "Registries", "registries"
	regs, err := c.st.Registries(r.Context())
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	pg := &RegistriesPage{Page: p}
	for _, reg := range regs {
		pg.Registries = append(pg.Registries, registryRow(reg))
	}
	c.render(w, http.StatusOK, "registries.html", pg)
}

func (c *Console) registry(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Nav = "registries"
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, p, http.StatusNotFound, err)
		return
	}
	reg, err := c.st.Registry(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no registry %d", id))
		return
	}
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	row := registryRow(*reg)
	p.Title = "Registry " + reg.URL
	c.render(w, http.StatusOK, "registry.html", &RegistriesPage{Page: p, Edit: &row, Form: registryForm(*reg)})
}

// saveRegistry creates or updates a registry through the API's code
// (server.SaveRegistry); credentials left empty on an edit are kept.
func (c *Console) saveRegistry(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Nav = "registries"
	var id int64
	var edit *RegistryRow
	if v := r.PathValue("id"); v != "" {
		var err error
		if id, err = parseID(v); err != nil {
			c.fail(w, r, p, http.StatusNotFound, err)
			return
		}
		reg, err := c.st.Registry(r.Context(), id)
		if err != nil {
			c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no registry %d", id))
			return
		}
		row := registryRow(*reg)
		edit = &row
	}
	req, err := parseRegistryForm(r.PostForm)
	if err == nil {
		_, err = c.srv.SaveRegistry(r.Context(), id, req)
	}
	var in *server.InputError
	if errors.As(err, &in) {
		form := RegistryForm{RegistryRequest: req, Repositories: r.PostForm.Get("repositories"), Tags: r.PostForm.Get("tags")}
		form.Username, form.Password = "", ""
		if edit != nil {
			p.Title = "Registry " + edit.URL
			c.render(w, http.StatusBadRequest, "registry.html", &RegistriesPage{Page: p, Edit: edit, Form: form, Error: in.Err.Error()})
			return
		}
		regs, lerr := c.st.Registries(r.Context())
		if lerr != nil {
			c.fail(w, r, p, http.StatusInternalServerError, lerr)
			return
		}
		pg := &RegistriesPage{Page: p, Form: form, Error: in.Err.Error()}
		for _, reg := range regs {
			pg.Registries = append(pg.Registries, registryRow(reg))
		}
		p.Title = "Registries"
		c.render(w, http.StatusBadRequest, "registries.html", pg)
		return
	}
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	done(w, r, "/registries", "saved")
}

func (c *Console) sweep(w http.ResponseWriter, r *http.Request, p *Page) {
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		_, err = c.srv.SweepRegistry(r.Context(), id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, p, http.StatusNotFound, fmt.Errorf("no registry %s", r.PathValue("id")))
	case err != nil:
		c.fail(w, r, p, http.StatusInternalServerError, err)
	default:
		done(w, r, "/registries", "sweep")
	}
}

// maxAdvisoryImages bounds the images an advisory's page lists.
const maxAdvisoryImages = 500

// AdvisoriesPage searches an advisory and lists the images it affects.
type AdvisoriesPage struct {
	*Page
	Query  string
	Images []store.Image
	// More counts the images left out of Images.
	More int
	Top  []store.AdvisoryCount
}

func (c *Console) advisories(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title, p.Nav = "Advisories", "advisories"
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxSearch {
		c.fail(w, r, p, http.StatusBadRequest, fmt.Errorf("advisory: at most %d characters", maxSearch))
		return
	}
	pg := &AdvisoriesPage{Page: p, Query: q}
	var err error
	if q != "" {
		pg.Images, err = c.srv.AdvisoryImages(r.Context(), q)
		if len(pg.Images) > maxAdvisoryImages {
			pg.Images, pg.More = pg.Images[:maxAdvisoryImages], len(pg.Images)-maxAdvisoryImages
		}
	} else {
		pg.Top, err = c.st.TopAdvisories(r.Context(), 50)
	}
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	c.render(w, http.StatusOK, "advisories.html", pg)
}

// eventsPageSize is how many events a page lists.
const eventsPageSize = 50

// EventsPage lists the changes of images' findings.
type EventsPage struct {
	*Page
	Events []store.Event
	Total  int
	// Kind, Reason, MinSeverity and Digest are the filter's values.
	Kind, Reason, MinSeverity, Digest string
	From, To                          int
	Prev, Next                        string
}

// events lists events with the API's filter (server.EventQuery and
// store.ListEvents, as GET /api/v1/events).
func (c *Console) events(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Title, p.Nav = "Events", "events"
	f, err := server.EventQuery(r)
	if err != nil {
		c.fail(w, r, p, http.StatusBadRequest, err)
		return
	}
	if f.Limit == 0 || f.Limit > eventsPageSize {
		f.Limit = eventsPageSize
	}
	f.Offset = min(f.Offset, maxPage*eventsPageSize)
	list, total, err := c.st.ListEvents(r.Context(), f)
	if err != nil {
		c.fail(w, r, p, http.StatusInternalServerError, err)
		return
	}
	q := r.URL.Query()
	pg := &EventsPage{Page: p, Events: list, Total: total, Kind: f.Kind, Reason: f.Reason, MinSeverity: string(f.MinSeverity), Digest: f.Digest}
	if len(list) > 0 {
		pg.From, pg.To = f.Offset+1, f.Offset+len(list)
	}
	at := func(offset int) string {
		q.Set("offset", strconv.Itoa(offset))
		q.Del("limit")
		return "/events?" + q.Encode()
	}
	if f.Offset > 0 {
		pg.Prev = at(max(0, f.Offset-f.Limit))
	}
	if f.Offset+len(list) < total {
		pg.Next = at(f.Offset + f.Limit)
	}
	c.render(w, http.StatusOK, "events.html", pg)
}
