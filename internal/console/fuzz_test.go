package console

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseImageQuery: any query string is refused or read into a filter
// within bounds, and the query the page links to reads back the same.
func FuzzParseImageQuery(f *testing.F) {
	f.Add("q=app&severity=high&sort=worst&malware=1&page=3&tab=registry:2")
	f.Add("tab=host:build-1&class=secret&severity=LOW")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		iq, filter, err := parseImageQuery(q)
		if err != nil {
			return
		}
		if filter.Offset < 0 || filter.Offset > maxPage*pageSize || filter.Limit != pageSize || len(filter.Search) > maxSearch {
			t.Fatalf("filter out of bounds: %+v", filter)
		}
		link := iq.Values(nil)
		u, err := url.Parse(link)
		if err != nil || u.Path != "/images" || u.Host != "" {
			t.Fatalf("link %q: %v", link, err)
		}
		again, _, err := parseImageQuery(u.Query())
		if err != nil || !reflect.DeepEqual(again, iq) {
			t.Fatalf("%q reads back as %+v (%v), want %+v", link, again, err, iq)
		}
	})
}

// FuzzParseRegistryForm: any form body is refused or read into a request
// within bounds.
func FuzzParseRegistryForm(f *testing.F) {
	f.Add("url=registry.example.com&username=ci&password=x&repositories=team%2F*%0Aother&tags=v*,latest&latest=5&schedule=%40daily&plain_http=1")
	f.Add("url=http://127.0.0.1:5000&latest=-1")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := parseRegistryForm(form)
		if err != nil {
			return
		}
		if len(req.URL) > maxField || len(req.Repositories) > maxGlobsIn || len(req.Tags) > maxGlobsIn {
			t.Fatalf("out of bounds: %+v", req)
		}
		for _, g := range append(req.Repositories, req.Tags...) {
			if g == "" || g != strings.TrimSpace(g) || strings.ContainsAny(g, ",\n\r") {
				t.Fatalf("glob %q", g)
			}
		}
	})
}

// FuzzSafeNext: where a browser goes after signing in stays on this site.
func FuzzSafeNext(f *testing.F) {
	f.Add("/images?q=x")
	f.Add("//evil.example.com/")
	f.Add("/\\evil.example.com")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
	})
}
