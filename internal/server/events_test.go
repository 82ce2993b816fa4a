package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// FuzzEventFilter: any query either is refused or gives a filter the
// store takes: a known kind and reason, a severity, no negative page.
func FuzzEventFilter(f *testing.F) {
	for _, q := range []string{"kind=new&min_severity=high&limit=10", "since=2026-01-02T15:04:05Z&offset=3", "kind=gone", "min_severity=bad", "limit=-1", "since=yesterday", "%zz"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/api/v1/events", nil)
		r.URL.RawQuery = q
		ef, err := eventFilter(r)
		if err != nil {
			return
		}
		if ef.Kind != "" && ef.Kind != store.EventNew && ef.Kind != store.EventResolved || ef.Reason != "" && ef.Reason != store.ReasonRematch && ef.Reason != store.ReasonRescan {
			t.Errorf("%q: %+v", q, ef)
		}
		if ef.MinSeverity != "" && ef.MinSeverity.Rank() == 0 && ef.MinSeverity != model.Unknown || ef.Limit < 0 || ef.Offset < 0 {
			t.Errorf("%q: %+v", q, ef)
		}
	})
}

// FuzzNotificationRequest: a notification request is either refused or
// names an absolute http(s) URL, a bounded secret and known kinds.
func FuzzNotificationRequest(f *testing.F) {
	for _, b := range []string{`{"url": "https://hooks.example.com/x", "secret": "s", "min_severity": "high", "kinds": ["new", "new"]}`,
		`{"url": "ftp://x", "secret": "s"}`, `{"url": "http://h", "secret": "", "kinds": ["x"]}`, `{"url": "//h", "secret": "s"}`} {
		f.Add([]byte(b))
	}
	s := &Server{key: bytes.Repeat([]byte{1}, 32)}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req NotificationRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		n, err := s.checkNotification(req)
		if err != nil {
			return
		}
		u, perr := url.Parse(n.URL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(req.Secret) == 0 || len(req.Secret) > maxNotifySecret || len(n.Kinds) > 2 {
			t.Errorf("%s accepted: %+v", body, n)
		}
		for _, k := range n.Kinds {
			if k != store.EventNew && k != store.EventResolved {
				t.Errorf("%s: kind %q", body, k)
			}
		}
	})
}
