// Package console is the web console of customs server: server-rendered
// pages (html/template) and embedded static assets over the same
// functions the HTTP API calls (internal/server and internal/store), so
// that what a page shows is what the API answers. Signing in exchanges an
// API token for a session cookie; pages work without JavaScript.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// sessionTTL is how long a console session lasts.
const sessionTTL = 12 * time.Hour

// Console serves the web console.
type Console struct {
	srv   *server.Server
	st    *store.Store
	log   *slog.Logger
	pages *template.Template
	mux   *http.ServeMux
}

// New makes the console of s; server.Config.Console takes it.
func New(s *server.Server) http.Handler {
	c := &Console{srv: s, st: s.Store(), log: s.Logger().With("component", "console"), pages: parseTemplates()}
	c.routes()
	return c
}

func parseTemplates() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, files)))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		http.ServeFileFS(w, r, static, "favicon.svg")
	})
	m.HandleFunc("GET /signin", c.signinPage)
	m.HandleFunc("POST /signin", c.signin)
	m.HandleFunc("POST /signout", c.signout)
	m.HandleFunc("GET /{$}", c.reader(c.overview))
	m.HandleFunc("GET /images", c.reader(c.images))
	m.HandleFunc("POST /images/scan", c.admin(c.scanImages))
	m.HandleFunc("GET /images/{digest}", c.reader(c.image))
	m.HandleFunc("GET /scans", c.reader(c.scans))
	m.HandleFunc("POST /scans/{id}/cancel", c.admin(c.cancelScan))
	m.HandleFunc("POST /scans/{id}/retry", c.admin(c.retryScan))
	m.HandleFunc("GET /registries", c.reader(c.registries))
	m.HandleFunc("POST /registries", c.admin(c.saveRegistry))
	m.HandleFunc("GET /registries/{id}", c.reader(c.registry))
	m.HandleFunc("POST /registries/{id}", c.admin(c.saveRegistry))
	m.HandleFunc("POST /registries/{id}/sweep", c.admin(c.sweep))
	m.HandleFunc("GET /advisories", c.reader(c.advisories))
	m.HandleFunc("GET /events", c.reader(c.events))
	m.HandleFunc("/", c.reader(func(w http.ResponseWriter, r *http.Request, p *Page) {
		c.fail(w, r, p, http.StatusNotFound, errors.New("no such page"))
	}))
	c.mux = m
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP serves a console request with headers that keep pages from
// being framed, sniffed or loading anything from elsewhere.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

// render executes a page template into a buffer, so that a failing
// template answers 500 and never half a page.
func (c *Console) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, data); err != nil {
		c.log.Error("console template", "page", name, "error", err)
		http.Error(w, "internal error rendering "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, p *Page, code int, err error) {
	if code >= 500 {
		c.log.Error("console", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	p.Title = http.StatusText(code)
	c.render(w, code, "error.html", &ErrorPage{Page: p, Code: code, Message: err.Error()})
}
