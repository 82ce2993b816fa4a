package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/webhook"
)

func TestSignKnownVector(t *testing.T) {
	// HMAC-SHA256 of the classic pangram keyed with "key".
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got := webhook.Sign("key", []byte("The quick brown fox jumps over the lazy dog")); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"event":"finding.new","id":1}`)
	sig := webhook.Sign("s3cret", body)
	for _, tc := range []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"valid", "s3cret", body, sig, true},
		{"surrounding spaces", "s3cret", body, " " + sig + " ", true},
		{"wrong secret", "secret", body, sig, false},
		{"changed body", "s3cret", []byte(`{"event":"finding.new","id":2}`), sig, false},
		{"no prefix", "s3cret", body, strings.TrimPrefix(sig, "sha256="), false},
		{"other algorithm", "s3cret", body, "sha1=" + strings.TrimPrefix(sig, "sha256="), false},
		{"upper-case hex", "s3cret", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), true},
		{"truncated", "s3cret", body, sig[:len(sig)-2], false},
		{"not hex", "s3cret", body, "sha256=" + strings.Repeat("zz", 32), false},
		{"empty header", "s3cret", body, "", false},
		{"empty secret", "", body, webhook.Sign("", body), false},
	} {
		if got := webhook.Verify(tc.secret, tc.body, tc.header); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// delivery is one request an endpoint received.
type delivery struct {
	body                 []byte
	signature, event, id string
	contentType          string
	at                   time.Time
}

// endpoint is a real HTTP server that records deliveries and answers each
// with the next of its handlers (the last one repeats).
type endpoint struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []delivery
	handlers []http.HandlerFunc
}

func newEndpoint(t *testing.T, handlers ...http.HandlerFunc) *endpoint {
	t.Helper()
	e := &endpoint{handlers: handlers}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.got)
		e.got = append(e.got, delivery{body: body, signature: r.Header.Get(webhook.SignatureHeader),
			event: r.Header.Get(webhook.EventHeader), id: r.Header.Get(webhook.DeliveryHeader),
			contentType: r.Header.Get("Content-Type"), at: time.Now()})
		h := e.handlers[min(n, len(e.handlers)-1)]
		e.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) deliveries() []delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]delivery(nil), e.got...)
}

func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

var payload = []byte(`{"event":"finding.new","image":"reg.example.com/app@sha256:aa","findings":[{"id":"CVE-2026-0001","severity":"HIGH"}]}`)

func TestSendSignsAndDelivers(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusNoContent))
	s := &webhook.Sender{}
	if err := s.SendEvent(context.Background(), ep.srv.URL+"/hook", "s3cret", "finding.new", payload); err != nil {
		t.Fatal(err)
	}
	got := ep.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	d := got[0]
	if string(d.body) != string(payload) || !webhook.Verify("s3cret", d.body, d.signature) {
		t.Errorf("body %s with signature %q does not verify", d.body, d.signature)
	}
	if d.event != "finding.new" || len(d.id) != 26 || d.contentType != "application/json" {
		t.Errorf("headers: event %q, delivery %q, content type %q", d.event, d.id, d.contentType)
	}

	// Without a secret or event name, those headers are left out.
	if err := s.Send(context.Background(), ep.srv.URL, "", payload); err != nil {
		t.Fatal(err)
	}
	if d := ep.deliveries()[1]; d.signature != "" || d.event != "" || d.id == "" || d.id == got[0].id {
		t.Errorf("unsigned delivery: signature %q, event %q, delivery %q", d.signature, d.event, d.id)
	}
}

func TestSendRetriesUnavailableThenSucceeds(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusServiceUnavailable), status(http.StatusServiceUnavailable), status(http.StatusOK))
	s := &webhook.Sender{Retries: 3, Backoff: 20 * time.Millisecond}
	if err := s.Send(context.Background(), ep.srv.URL, "k", payload); err != nil {
		t.Fatal(err)
	}
	got := ep.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for _, d := range got {
		if d.id != got[0].id || !webhook.Verify("k", d.body, d.signature) {
			t.Errorf("attempt with delivery %q (first %q), signature valid %v", d.id, got[0].id, webhook.Verify("k", d.body, d.signature))
		}
	}
	// Exponential: the second wait is about twice the first.
	first, second := got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at)
	if first < 20*time.Millisecond || second < 40*time.Millisecond {
		t.Errorf("waits %s and %s, want at least 20ms and 40ms", first, second)
	}
}

func TestSendGivesUpAfterRetries(t *testing.T) {
	ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, strings.Repeat("overloaded ", 100000), http.StatusInternalServerError)
	})
	s := &webhook.Sender{Retries: 2, Backoff: time.Millisecond}
	err := s.Send(context.Background(), ep.srv.URL+"/hook?token=hidden", "k", payload)
	var derr *webhook.DeliveryError
	if !errors.As(err, &derr) {
		t.Fatalf("error %v is not a *DeliveryError", err)
	}
	if n := len(ep.deliveries()); n != 3 || derr.Attempts != 3 || derr.StatusCode != http.StatusInternalServerError {
		t.Errorf("%d requests, error says %d attempts, status %d", n, derr.Attempts, derr.StatusCode)
	}
	if msg := err.Error(); len(msg) > 600 || strings.Contains(msg, "hidden") || !strings.Contains(msg, "overloaded") {
		t.Errorf("error message (%d bytes) should be short, quote the answer and hide the query: %.300s", len(msg), msg)
	}
}

func TestSendDoesNotRetryClientErrors(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusGone} {
		ep := newEndpoint(t, status(code))
		s := &webhook.Sender{Retries: 5, Backoff: time.Millisecond}
		err := s.Send(context.Background(), ep.srv.URL, "k", payload)
		var derr *webhook.DeliveryError
		if !errors.As(err, &derr) || derr.StatusCode != code || derr.Attempts != 1 {
			t.Errorf("%d: %v", code, err)
		}
		if n := len(ep.deliveries()); n != 1 {
			t.Errorf("%d: %d requests, want 1", code, n)
		}
	}
}

func TestSendHonoursRetryAfter(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusTooManyRequests, "Retry-After", "1"), status(http.StatusOK))
	s := &webhook.Sender{Retries: 1, Backoff: time.Millisecond}
	if err := s.Send(context.Background(), ep.srv.URL, "k", payload); err != nil {
		t.Fatal(err)
	}
	got := ep.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d attempts, want 2", len(got))
	}
	if wait := got[1].at.Sub(got[0].at); wait < time.Second {
		t.Errorf("retried after %s, Retry-After asked for 1s", wait)
	}

	// An HTTP date works too.
	ep = newEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}, status(http.StatusOK))
	if err := s.Send(context.Background(), ep.srv.URL, "k", payload); err != nil {
		t.Fatal(err)
	}
	got = ep.deliveries()
	if len(got) != 2 || got[1].at.Sub(got[0].at) < 900*time.Millisecond {
		t.Errorf("HTTP-date Retry-After: %d attempts", len(got))
	}

	// Asked to wait longer than MaxWait: give up rather than retry early.
	ep = newEndpoint(t, status(http.StatusServiceUnavailable, "Retry-After", "3600"), status(http.StatusOK))
	s = &webhook.Sender{Retries: 3, Backoff: time.Millisecond, MaxWait: 100 * time.Millisecond}
	start := time.Now()
	err := s.Send(context.Background(), ep.srv.URL, "k", payload)
	if err == nil || len(ep.deliveries()) != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("Retry-After beyond MaxWait: %v after %d attempts", err, len(ep.deliveries()))
	}
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // no answer at all
		}
	}, status(http.StatusAccepted))
	s := &webhook.Sender{Retries: 2, Backoff: 5 * time.Millisecond}
	if err := s.Send(context.Background(), ep.srv.URL, "k", payload); err != nil {
		t.Fatal(err)
	}
	if n := len(ep.deliveries()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}

	// Nobody listening: every attempt fails, and the error says so.
	ep.srv.Close()
	err := s.Send(context.Background(), ep.srv.URL, "k", payload)
	var derr *webhook.DeliveryError
	if !errors.As(err, &derr) || derr.Attempts != 3 || derr.StatusCode != 0 {
		t.Errorf("closed endpoint: %v", err)
	}
}

func TestSendRedirects(t *testing.T) {
	other := newEndpoint(t, status(http.StatusOK))
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			w.WriteHeader(http.StatusOK)
			return
		}
		target := other.srv.URL + "/stolen"
		if r.URL.Path == "/same-host" {
			target = "/moved"
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	s := &webhook.Sender{Retries: 2, Backoff: time.Millisecond}

	// Another host (here another port) is never followed, nor retried.
	err := s.Send(context.Background(), ep.srv.URL+"/elsewhere", "k", payload)
	var derr *webhook.DeliveryError
	if !errors.As(err, &derr) || derr.StatusCode != http.StatusTemporaryRedirect || derr.Attempts != 1 {
		t.Errorf("redirect to another host: %v", err)
	}
	if n := len(other.deliveries()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}

	// The same host is followed, with the body and its signature.
	if err := s.Send(context.Background(), ep.srv.URL+"/same-host", "k", payload); err != nil {
		t.Fatal(err)
	}
	got := ep.deliveries()
	last := got[len(got)-1]
	if !webhook.Verify("k", last.body, last.signature) || string(last.body) != string(payload) {
		t.Errorf("redirected delivery lost its body or signature: %q %q", last.body, last.signature)
	}

	// A caller's client that would follow any redirect is still held to
	// the same host, and is left as it was.
	own := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	s.Client = own
	if err := s.Send(context.Background(), ep.srv.URL+"/elsewhere", "k", payload); err == nil || len(other.deliveries()) != 0 {
		t.Errorf("a caller's client followed a redirect to another host: %v", err)
	}
	if own.CheckRedirect == nil {
		t.Error("the caller's client was changed")
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusBadGateway))
	s := &webhook.Sender{Retries: 5, Backoff: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, ep.srv.URL, "k", payload)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("after %s: %v", time.Since(start), err)
	}
	if n := len(ep.deliveries()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestSendRefusesOtherSchemes(t *testing.T) {
	s := &webhook.Sender{}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "/relative", "http://", "::"} {
		if err := s.Send(context.Background(), u, "k", payload); err == nil {
			t.Errorf("%q: no error", u)
		}
	}
}
