package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/server"
)

// TestSessions: signing in exchanges a token for an HttpOnly, SameSite
// session cookie; forms need the session's CSRF token; a read token's
// session sees but cannot act; the cookie authorizes API GETs only;
// signing out ends the session.
func TestSessions(t *testing.T) {
	cs := startServer(t)
	b := cs.client(t)
	if code, loc, _ := b.get("/images?q=x"); code != http.StatusSeeOther || loc != "/signin?next=%2Fimages%3Fq%3Dx" {
		t.Fatalf("signed out: %d %s", code, loc)
	}
	if code, _, _ := b.post("/signin", url.Values{"token": {cs.admin}}); code != http.StatusForbidden {
		t.Errorf("sign in without the form's CSRF token: %d", code)
	}
	if code, _ := b.signin("cst_unknown"); code != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", code)
	}
	resp, err := b.c.PostForm(cs.url+"/signin", url.Values{"csrf": {b.csrf("/signin")}, "token": {cs.read}, "next": {"/images"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/images" {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/", session)
	}
	u, _ := url.Parse(cs.url)
	code, _, body := b.get("/images")
	if code != 200 || strings.Contains(body, "Scan now") || !strings.Contains(body, "bob · read") {
		t.Errorf("a read session's image list: %d, scan buttons or no role shown", code)
	}
	csrf := b.csrf("/images")
	if code, _, _ := b.post("/registries", url.Values{"csrf": {csrf}, "url": {"registry.example.com"}}); code != http.StatusForbidden {
		t.Errorf("a read session added a registry: %d", code)
	}
	// The API: GETs with the cookie, nothing else.
	if code, _, _ := b.get("/api/v1/images"); code != 200 {
		t.Errorf("API GET with the session cookie: %d", code)
	}
	if code, _, _ := b.post("/api/v1/registries", url.Values{}); code != http.StatusUnauthorized {
		t.Errorf("API POST with the session cookie: %d", code)
	}
	if code, _, _ := b.get("/api/v1/nothing"); code != http.StatusNotFound {
		t.Errorf("unknown API route: %d", code)
	}

	// An admin session acts, with the CSRF token only.
	a := cs.client(t)
	if code, _ := a.signin(cs.admin); code != http.StatusSeeOther {
		t.Fatalf("admin sign in: %d", code)
	}
	form := url.Values{"url": {"registry.example.com"}, "username": {"ci"}, "password": {"s3cr3t-Pa55word-xyz"}, "schedule": {"@daily"}, "tags": {"v*\nlatest"}}
	if code, _, _ := a.post("/registries", form); code != http.StatusForbidden {
		t.Errorf("a form without the CSRF token: %d", code)
	}
	form.Set("csrf", csrf) // another session's
	if code, _, _ := a.post("/registries", form); code != http.StatusForbidden {
		t.Errorf("a form with another session's CSRF token: %d", code)
	}
	form.Set("csrf", a.csrf("/registries"))
	if code, loc, _ := a.post("/registries", form); code != http.StatusSeeOther || loc != "/registries?done=saved" {
		t.Fatalf("add a registry: %d %s", code, loc)
	}
	_, _, body = a.get("/registries/1")
	if strings.Contains(body, "s3cr3t-Pa55word-xyz") || !strings.Contains(body, "stored (never shown)") || !strings.Contains(body, "v*\nlatest") {
		t.Errorf("the registry's page shows its password, or not its settings:\n%s", body)
	}
	form.Set("schedule", "every now and then")
	if code, _, body := a.post("/registries/1", form); code != http.StatusBadRequest || !strings.Contains(body, "every now and then") {
		t.Errorf("a bad schedule: %d", code)
	}
	// Signing out ends the session, also for the API.
	if code, loc, _ := b.post("/signout", url.Values{"csrf": {csrf}}); code != http.StatusSeeOther || loc != "/signin" {
		t.Errorf("sign out: %d %s", code, loc)
	}
	b.c.Jar.SetCookies(u, []*http.Cookie{session})
	if code, _, _ := b.get("/images"); code != http.StatusSeeOther {
		t.Errorf("the ended session's cookie still opens pages: %d", code)
	}
	if code, _, _ := b.get("/api/v1/images"); code != http.StatusUnauthorized {
		t.Errorf("the ended session's cookie still reads the API: %d", code)
	}
}
