package console

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

// pageSize is how many images a page of the list shows.
const pageSize = 50

// Bounds of what a form or query may hold.
const (
	maxSearch  = 256
	maxPage    = 100000
	maxField   = 4096
	maxGlobsIn = 100
)

// ImageQuery is the image list's query as the form shows it.
type ImageQuery struct {
	// Tab is "" (every image), "host:NAME" or "registry:ID".
	Tab string
	// Class, when set, is the finding class MinSeverity applies to (else
	// any class).
	Class       model.Class
	Search      string
	HasMalware  bool
	HasSecrets  bool
	MinSeverity string
	Sort        string
	// Page counts from 1.
	Page int
}

// parseImageQuery reads the image list's query into what the form shows
// and the store filter it means; values out of bounds or unknown are
// refused.
func parseImageQuery(q url.Values) (ImageQuery, store.ImageFilter, error) {
	iq := ImageQuery{Search: strings.TrimSpace(q.Get("q")), Tab: q.Get("tab"), MinSeverity: strings.ToUpper(q.Get("severity")), Class: model.Class(q.Get("class")),
		Sort: q.Get("sort"), HasMalware: q.Get("malware") != "", HasSecrets: q.Get("secrets") != "", Page: 1}
	f := store.ImageFilter{Search: iq.Search, HasMalware: iq.HasMalware, HasSecrets: iq.HasSecrets, Limit: pageSize}
	if len(iq.Search) > maxSearch {
		return iq, f, fmt.Errorf("search: at most %d characters", maxSearch)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return iq, f, fmt.Errorf("page %q: want 1 to %d", v, maxPage)
		}
		iq.Page = n
	}
	f.Offset = (iq.Page - 1) * pageSize
	switch iq.Sort {
	case "", "last_scanned", "worst", "name":
		f.Sort = iq.Sort
	default:
		return iq, f, fmt.Errorf("sort %q: want last_scanned, worst or name", iq.Sort)
	}
	if iq.MinSeverity != "" {
		sev := model.Severity(iq.MinSeverity)
		if sev.Rank() == 0 && sev != model.Unknown {
			return iq, f, fmt.Errorf("severity %q: want CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", iq.MinSeverity)
		}
		f.MinSeverity = map[model.Class]model.Severity{iq.Class: sev}
	}
	if iq.Class != "" && (iq.MinSeverity == "" || !slices.Contains(store.Classes, iq.Class)) {
		return iq, f, fmt.Errorf("class %q: want one of %v, with a severity", iq.Class, store.Classes)
	}
	kind, val, _ := strings.Cut(iq.Tab, ":")
	switch {
	case iq.Tab == "":
	case kind == "host" && val != "" && len(val) <= 255:
		f.Host = val
	case kind == "registry":
		id, err := strconv.ParseInt(val, 10, 64)
		if err != nil || id <= 0 {
			return iq, f, fmt.Errorf("tab %q: want registry:ID", iq.Tab)
		}
		f.Registry = val
	default:
		return iq, f, fmt.Errorf("tab %q: want host:NAME or registry:ID", iq.Tab)
	}
	return iq, f, nil
}

// Values is the query again, with changes.
func (q ImageQuery) Values(change func(*ImageQuery)) string {
	if change != nil {
		change(&q)
	}
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("tab", q.Tab)
	set("q", q.Search)
	set("severity", q.MinSeverity)
	set("class", string(q.Class))
	set("sort", q.Sort)
	if q.HasMalware {
		v.Set("malware", "1")
	}
	if q.HasSecrets {
		v.Set("secrets", "1")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return "/images"
	}
	return "/images?" + v.Encode()
}

// SortURL is the list sorted by key, on its first page.
func (q ImageQuery) SortURL(key string) string {
	return q.Values(func(q *ImageQuery) { q.Sort, q.Page = key, 1 })
}

// PageURL is another page of the list.
func (q ImageQuery) PageURL(n int) string {
	return q.Values(func(q *ImageQuery) { q.Page = n })
}

// TabURL is another tab of the list, on its first page.
func (q ImageQuery) TabURL(tab string) string {
	return q.Values(func(q *ImageQuery) { q.Tab, q.Page = tab, 1 })
}

// parseGlobs reads a list of globs, one a line or separated by commas.
func parseGlobs(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseRegistryForm reads the registry form into the API's request; the
// server checks what it means.
func parseRegistryForm(f url.Values) (server.RegistryRequest, error) {
	var req server.RegistryRequest
	for _, k := range []string{"url", "username", "password", "repositories", "tags", "latest", "schedule"} {
		if len(f.Get(k)) > maxField {
			return req, &server.InputError{Err: fmt.Errorf("%s: at most %d characters", k, maxField)}
		}
	}
	req.URL = strings.TrimSpace(f.Get("url"))
	req.Username, req.Password = f.Get("username"), f.Get("password")
	req.PlainHTTP, req.Insecure = f.Get("plain_http") != "", f.Get("insecure") != ""
	req.Repositories, req.Tags = parseGlobs(f.Get("repositories")), parseGlobs(f.Get("tags"))
	if len(req.Repositories) > maxGlobsIn || len(req.Tags) > maxGlobsIn {
		return req, &server.InputError{Err: fmt.Errorf("at most %d repository and %d tag globs", maxGlobsIn, maxGlobsIn)}
	}
	if v := strings.TrimSpace(f.Get("latest")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, &server.InputError{Err: fmt.Errorf("latest %q: want a number", v)}
		}
		req.Latest = n
	}
	req.Schedule = strings.TrimSpace(f.Get("schedule"))
	return req, nil
}

// parseID reads a positive id of a path.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("id %q: want a positive number", s)
	}
	return id, nil
}
