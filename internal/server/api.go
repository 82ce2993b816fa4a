package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river/rivertype"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
)

// access is who may call a route.
type access int

const (
	public access = iota
	reader
	admin
)

// route is one API route: its method and path pattern (net/http's).
type route struct {
	pattern string
	access  access
	handler http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /metrics", public, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP},
		{"POST /api/v1/scans", admin, s.createScan},
		{"GET /api/v1/scans", reader, s.listScans},
		{"GET /api/v1/scans/{id}", reader, s.getScan},
		{"DELETE /api/v1/scans/{id}", admin, s.cancelScan},
		{"POST /api/v1/scans/{id}/retry", admin, s.retryScan},
		{"GET /api/v1/overview", reader, s.overview},
		{"GET /api/v1/images", reader, s.listImages},
		{"GET /api/v1/images/{digest}", reader, s.getImage},
		{"GET /api/v1/images/{digest}/report", reader, s.imageReport},
		{"GET /api/v1/images/{digest}/scans", reader, s.imageScans},
		{"GET /api/v1/vulnerabilities/{id}/images", reader, s.advisoryImages},
		{"POST /api/v1/hooks/distribution", admin, s.distributionHook},
		{"POST /api/v1/hooks/harbor", admin, s.harborHook},
		{"GET /api/v1/hosts", reader, s.listHosts},
		{"POST /api/v1/registries", admin, s.createRegistry},
		{"GET /api/v1/registries", reader, s.listRegistries},
		{"GET /api/v1/registries/{id}", reader, s.getRegistry},
		{"PUT /api/v1/registries/{id}", admin, s.updateRegistry},
		{"DELETE /api/v1/registries/{id}", admin, s.deleteRegistry},
		{"POST /api/v1/registries/{id}/sweep", admin, s.sweepRegistry},
		{"PUT /api/v1/policies", admin, s.putPolicy},
		{"GET /api/v1/policies", reader, s.getPolicy},
		{"GET /api/v1/verdicts", reader, s.listVerdicts},
		{"POST /k8s/validate", public, s.validate},
		{"GET /api/v1/events", reader, s.listEvents},
		{"POST /api/v1/docker/decide", admin, s.dockerDecide},
		{"GET " + s.harborBase() + "/api/v1/metadata", reader, s.harborMetadata},
		{"POST " + s.harborBase() + "/api/v1/scan", admin, s.harborScan},
		{"GET " + s.harborBase() + "/api/v1/scan/{id}/report", reader, s.harborReport},
		{"POST /api/v1/notifications", admin, s.createNotification},
		{"GET /api/v1/notifications", reader, s.listNotifications},
		{"DELETE /api/v1/notifications/{id}", admin, s.deleteNotification},
	}
}

// Routes lists the method and path of every route the API serves.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.routes() {
		out = append(out, r.pattern)
	}
	return out
}

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		h := r.handler
		if r.access != public {
			h = s.authorize(r.access, h)
		}
		mux.Handle(r.pattern, h)
	}
	noRoute := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path)
	}
	if s.cfg.Console != nil {
		mux.Handle("/", s.cfg.Console(s))
		mux.HandleFunc("/api/", noRoute)
	} else {
		mux.HandleFunc("/", noRoute)
	}
	return mux
}

// authorize lets through requests with a bearer token of a role allowed
// to call the route: read for reading routes, admin for all. A GET may
// also carry a web console session's cookie instead (report downloads);
// changes need the token itself.
func (s *Server) authorize(need access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError := s.errorWriter(r)
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie(SessionCookie); (!ok || tok == "") && need == reader && r.Method == http.MethodGet && err == nil {
			_, err := s.store.SessionToken(r.Context(), c.Value)
			if err == nil {
				h(w, r)
				return
			}
			if !errors.Is(err, store.ErrNotFound) {
				s.internalError(w, r, err)
				return
			}
		}
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="customs"`)
			writeError(w, http.StatusUnauthorized, "an API token is required (Authorization: Bearer TOKEN; create one with `customs server token create`)")
			return
		}
		t, err := s.store.Authenticate(r.Context(), strings.TrimSpace(tok))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="customs", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown API token")
			return
		}
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		if need == admin && t.Role != store.RoleAdmin {
			writeError(w, http.StatusForbidden, "this call needs an admin token; the token given has role %s", t.Role)
			return
		}
		h(w, r)
	}
}

// decodeBody reads a JSON request body of at most limit bytes, with no
// unknown field, into v; on error it answers 400 showing want, and
// returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body: %v (want %s)", err, want)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers {"error": message}.
func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, http.StatusInternalServerError, "internal error: %v", err)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database and the job queue answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "database %s: %v", s.store.Where, err)
		return
	}
	if _, err := s.store.QueueDepth(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "job queue: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ScanRequest is the body of POST /api/v1/scans.
type ScanRequest struct {
	Image     string `json:"image"`
	PlainHTTP bool   `json:"plain_http"`
	Insecure  bool   `json:"insecure"`
}

// ScanStatus answers GET /api/v1/scans/{id}.
type ScanStatus struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	Error  string `json:"error,omitempty"`
	// Scan is the stored scan's id once the job succeeded.
	Scan    int64     `json:"scan,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Queued  time.Time `json:"queued"`
	// Started is when the latest attempt started.
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
}

func (s *Server) createScan(w http.ResponseWriter, r *http.Request) {
	var req ScanRequest
	if !decodeBody(w, r, 64<<10, &req, `{"image": "REF", "plain_http": false, "insecure": false}`) {
		return
	}
	st, dup, err := s.QueueScan(r.Context(), req)
	if err != nil {
		s.answerError(w, r, err, "")
		return
	}
	if dup {
		w.Header().Set("X-Customs-Duplicate", "true")
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/scans/%d", st.ID))
	writeJSON(w, http.StatusAccepted, st)
}

func (s *Server) jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "scan id %q: want a positive number", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (s *Server) getScan(w http.ResponseWriter, r *http.Request) {
	id, ok := s.jobID(w, r)
	if !ok {
		return
	}
	st, err := s.scanStatus(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no scan %d", id)
		return
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// scanStatus reads a scan job's state, and its stored scan once done. A
// job the queue has already cleaned up is known by its stored scan.
func (s *Server) scanStatus(ctx context.Context, id int64) (*ScanStatus, error) {
	job, err := s.jobs.JobGet(ctx, id)
	if errors.Is(err, rivertype.ErrNotFound) {
		si, err := s.store.ScanOfJob(ctx, id)
		if err != nil {
			return nil, err
		}
		return &ScanStatus{ID: id, Status: StatusSucceeded, Image: si.Input, Digest: si.Digest, Scan: si.ID, Queued: si.Started, Finished: &si.Finished}, nil
	}
	if err != nil {
		return nil, err
	}
	if job.Kind != (ScanArgs{}).Kind() {
		return nil, store.ErrNotFound
	}
	st := s.jobScanStatus(ctx, job)
	return &st, nil
}

func (s *Server) cancelScan(w http.ResponseWriter, r *http.Request) {
	id, ok := s.jobID(w, r)
	if !ok {
		return
	}
	st, err := s.CancelScan(r.Context(), id)
	if s.notFound(w, r, err, "no scan %d", id) {
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) retryScan(w http.ResponseWriter, r *http.Request) {
	id, ok := s.jobID(w, r)
	if !ok {
		return
	}
	st, err := s.RetryScan(r.Context(), id)
	if s.notFound(w, r, err, "no scan %d", id) {
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) listScans(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "limit=%s: want a positive number", v)
			return
		}
		limit = min(n, store.MaxPage)
	}
	scans, err := s.ListScans(r.Context(), r.URL.Query().Get("status"), limit)
	if err != nil {
		s.answerError(w, r, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scans": scans})
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	o, err := s.Overview(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// imageFilter reads GET /api/v1/images's query: source, host, registry,
// repository, tag, digest, q, min_severity (any class) and
// min_<class> (e.g. min_vulnerability=HIGH), has_malware, has_secrets,
// include_removed, sort, limit, offset.
func imageFilter(r *http.Request) (store.ImageFilter, error) {
	q := r.URL.Query()
	f := store.ImageFilter{
		Source: q.Get("source"), Host: q.Get("host"), Registry: q.Get("registry"), Repository: q.Get("repository"),
		Tag: q.Get("tag"), Digest: q.Get("digest"), Search: q.Get("q"), Sort: q.Get("sort"),
		MinSeverity: map[model.Class]model.Severity{},
	}
	for key, vals := range q {
		class, ok := strings.CutPrefix(key, "min_")
		if !ok {
			continue
		}
		if class == "severity" {
			class = ""
		}
		sev := model.Severity(strings.ToUpper(vals[0]))
		if sev.Rank() == 0 && sev != model.Unknown {
			return f, fmt.Errorf("%s=%s: want CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", key, vals[0])
		}
		f.MinSeverity[model.Class(class)] = sev
	}
	for key, dst := range map[string]*bool{"has_malware": &f.HasMalware, "has_secrets": &f.HasSecrets, "include_removed": &f.IncludeRemoved} {
		if v := q.Get(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("%s=%s: want true or false", key, v)
			}
			*dst = b
		}
	}
	return f, pageParams(q, &f.Limit, &f.Offset)
}

// pageParams reads a listing's limit and offset.
func pageParams(q url.Values, limit, offset *int) error {
	for key, dst := range map[string]*int{"limit": limit, "offset": offset} {
		if v := q.Get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%s=%s: want a number >= 0", key, v)
			}
			*dst = n
		}
	}
	return nil
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	f, err := imageFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	page, err := s.store.ListImages(r.Context(), f)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown ") {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getImage(w http.ResponseWriter, r *http.Request) {
	im, err := s.store.Image(r.Context(), r.PathValue("digest"))
	if s.notFound(w, r, err, "no image %s", r.PathValue("digest")) {
		return
	}
	writeJSON(w, http.StatusOK, im)
}

// notFound answers a lookup's error: 404 for ErrNotFound, 500 for others;
// it reports whether it answered.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, err error, format string, args ...any) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, format, args...)
	default:
		s.internalError(w, r, err)
	}
	return true
}

// imageReport answers the stored report of an image's latest scan (or of
// ?scan=ID) in ?format=json (default, the same document as `customs
// image --format json`), cyclonedx, spdx or sarif.
func (s *Server) imageReport(w http.ResponseWriter, r *http.Request) {
	digest := r.PathValue("digest")
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format == "table" || !contains(report.Formats(), format) {
		writeError(w, http.StatusBadRequest, "format %q: want json, cyclonedx, spdx or sarif", format)
		return
	}
	var rep *report.Report
	var err error
	if v := r.URL.Query().Get("scan"); v != "" {
		id, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			writeError(w, http.StatusBadRequest, "scan=%s: want a scan id", v)
			return
		}
		rep, err = s.store.ScanReport(r.Context(), digest, id)
	} else {
		rep, err = s.store.LatestReport(r.Context(), digest)
	}
	if s.notFound(w, r, err, "no report of %s", digest) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := report.Write(w, format, rep); err != nil {
		s.log.Error("write report", "digest", digest, "error", err)
	}
}

func (s *Server) imageScans(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "limit=%s: want a positive number", v)
			return
		}
		limit = min(n, store.MaxPage)
	}
	scans, err := s.store.ImageScans(r.Context(), r.PathValue("digest"), limit)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(scans) == 0 {
		writeError(w, http.StatusNotFound, "no scan of %s", r.PathValue("digest"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scans": scans})
}

// advisoryImages lists the images whose latest scan carries the advisory
// (found by its id or any alias).
func (s *Server) advisoryImages(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	images, err := s.AdvisoryImages(r.Context(), id)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "images": images})
}

// AdvisoryImages lists the images whose latest scan carries the advisory
// id or alias (GET /api/v1/vulnerabilities/{id}/images).
func (s *Server) AdvisoryImages(ctx context.Context, id string) ([]store.Image, error) {
	digests, err := s.store.ImagesWithAdvisory(ctx, id)
	if err != nil {
		return nil, err
	}
	images := []store.Image{}
	for _, d := range digests {
		im, err := s.store.Image(ctx, d)
		if err != nil {
			return nil, err
		}
		images = append(images, *im)
	}
	return images, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HostStatus is a watching host as the API reports it: stale when its
// heartbeat stopped.
type HostStatus struct {
	store.Host
	Stale bool `json:"stale"`
}

func (s *Server) listHosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := s.store.Hosts(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	out := make([]HostStatus, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, HostStatus{Host: h, Stale: time.Since(h.LastSeen) > staleAfter})
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": out})
}
