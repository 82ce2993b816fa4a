package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
)

// signinCookie holds the sign-in form's CSRF value until a session exists.
const signinCookie = "customs_signin"

// maxForm bounds a form's body.
const maxForm = 64 << 10

// Page is what every page shows around its content.
type Page struct {
	Title string
	// Nav names the menu entry of the page.
	Nav string
	// Role is the signed-in token's role ("" when signed out).
	Role string
	// TokenName is the signed-in token's name.
	TokenName string
	// CSRF goes in every form.
	CSRF string
	// Flash is a message about the last action.
	Flash string
}

// Admin reports whether the signed-in token may act.
func (p *Page) Admin() bool { return p.Role == store.RoleAdmin }

// ErrorPage is an error's page.
type ErrorPage struct {
	*Page
	Code    int
	Message string
}

// csrfOf is the CSRF token of a session: derived from its secret, which
// only the cookie's holder knows, so nothing more is stored.
func csrfOf(secret string) string {
	sum := sha256.Sum256([]byte("customs console csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameToken compares a form's CSRF token with the expected one in
// constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

type pageHandler func(http.ResponseWriter, *http.Request, *Page)

// session returns the page of the request's session, or nil when it has
// none that is live.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (*Page, error) {
	ck, err := r.Cookie(server.SessionCookie)
	if err != nil || !strings.HasPrefix(ck.Value, store.SessionPrefix) || len(ck.Value) > 128 {
		return nil, nil
	}
	tok, err := c.st.SessionToken(r.Context(), ck.Value)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Page{Role: tok.Role, TokenName: tok.Name, CSRF: csrfOf(ck.Value), Flash: flashes[r.URL.Query().Get("done")]}, nil
}

// reader serves a page to any signed-in token; others are sent to sign in.
func (c *Console) reader(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p := c.signedIn(w, r, true); p != nil {
			h(w, r, p)
		}
	}
}

// signedIn returns the request's page when it has a live session, else
// answers (sending a browser to sign in when toSignin) and returns nil.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request, toSignin bool) *Page {
	p, err := c.session(w, r)
	switch {
	case err != nil:
		c.fail(w, r, &Page{}, http.StatusInternalServerError, err)
	case p == nil && toSignin:
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	case p == nil:
		c.fail(w, r, &Page{}, http.StatusUnauthorized, errors.New("sign in first"))
	}
	return p
}

// admin serves a form post of an admin token's session with the
// session's CSRF token.
func (c *Console) admin(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := c.signedIn(w, r, false)
		if p == nil {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, p, http.StatusBadRequest, err)
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), p.CSRF) {
			c.fail(w, r, p, http.StatusForbidden, errors.New("the form is out of date or from another site: reload the page and try again"))
			return
		}
		if !p.Admin() {
			c.fail(w, r, p, http.StatusForbidden, errors.New("this needs an admin token; you signed in with a read token"))
			return
		}
		h(w, r, p)
	}
}

// SigninPage is the sign-in form.
type SigninPage struct {
	*Page
	Next  string
	Error string
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 2048 ||
		strings.HasPrefix(next, "/signin") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.showSignin(w, r, http.StatusOK, r.URL.Query().Get("next"), "")
}

func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, code int, next, msg string) {
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	v := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: v, Path: "/signin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	c.render(w, code, "signin.html", &SigninPage{Page: &Page{Title: "Sign in", CSRF: v}, Next: safeNext(next), Error: msg})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.showSignin(w, r, http.StatusBadRequest, "/", "The form could not be read.")
		return
	}
	next := r.PostForm.Get("next")
	ck, err := r.Cookie(signinCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), ck.Value) {
		c.showSignin(w, r, http.StatusForbidden, next, "The form is out of date: try again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if !strings.HasPrefix(token, store.TokenPrefix) || len(token) > 256 {
		c.showSignin(w, r, http.StatusUnauthorized, next, "That is not an API token (they start with "+store.TokenPrefix+").")
		return
	}
	tok, err := c.st.Authenticate(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		c.showSignin(w, r, http.StatusUnauthorized, next, "Unknown API token.")
		return
	}
	if err != nil {
		c.fail(w, r, &Page{}, http.StatusInternalServerError, err)
		return
	}
	secret, err := c.st.CreateSession(r.Context(), tok, sessionTTL)
	if err != nil {
		c.fail(w, r, &Page{}, http.StatusInternalServerError, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Path: "/signin", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ck, err := r.Cookie(server.SessionCookie)
	if err == nil && r.ParseForm() == nil && sameToken(r.PostForm.Get("csrf"), csrfOf(ck.Value)) {
		if err := c.st.DeleteSession(r.Context(), ck.Value); err != nil {
			c.fail(w, r, &Page{}, http.StatusInternalServerError, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
