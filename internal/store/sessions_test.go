package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSessions: a console session has its token's role until it expires
// or is deleted; only its hash is stored.
func TestSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		token, err := s.CreateToken(ctx, RoleRead, "viewer")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.CreateSession(ctx, tok, time.Hour)
		if err != nil || !strings.HasPrefix(live, SessionPrefix) {
			t.Fatalf("session %q: %v", live, err)
		}
		expired, err := s.CreateSession(ctx, tok, -time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.SessionToken(ctx, live); err != nil || got.ID != tok.ID || got.Role != RoleRead || got.Name != "viewer" {
			t.Errorf("live session: %+v %v", got, err)
		}
		for name, secret := range map[string]string{"expired": expired, "unknown": SessionPrefix + "nope", "the token itself": token} {
			if _, err := s.SessionToken(ctx, secret); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s session: %v, want ErrNotFound", name, err)
			}
		}
		var n int
		if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM console_session WHERE hash = ?`, live).Scan(&n); err != nil || n != 0 {
			t.Errorf("a session's secret is stored as it is (%v)", err)
		}
		if err := s.DeleteSession(ctx, live); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionToken(ctx, live); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
		// A new session sweeps out the expired ones.
		if _, err := s.CreateSession(ctx, tok, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM console_session`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d sessions kept (%v), want the live one", n, err)
		}
	})
}
