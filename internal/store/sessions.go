package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// SessionPrefix starts every console session secret.
const SessionPrefix = "css_"

// CreateSession opens a console session for the API token tok, valid for
// ttl, and returns its secret: the only time it is seen, as only its hash
// is kept. Expired sessions are deleted on the way.
func (s *Store) CreateSession(ctx context.Context, tok *Token, ttl time.Duration) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := SessionPrefix + base64.RawURLEncoding.EncodeToString(raw)
	n := now()
	if _, err := s.Exec(ctx, `DELETE FROM console_session WHERE expires <= ?`, Millis(n)); err != nil {
		return "", err
	}
	if _, err := s.Exec(ctx, `INSERT INTO console_session(hash, token_id, created, expires) VALUES(?, ?, ?, ?)`,
		hashToken(secret), tok.ID, Millis(n), Millis(n.Add(ttl))); err != nil {
		return "", err
	}
	return secret, nil
}

// SessionToken returns the API token of the live session whose secret is
// given, or ErrNotFound (unknown, expired, or its token is gone).
func (s *Store) SessionToken(ctx context.Context, secret string) (*Token, error) {
	return scanToken(s.QueryRow(ctx, `SELECT t.id, t.role, t.name, t.created, t.last_used FROM console_session c
		JOIN api_token t ON t.id = c.token_id WHERE c.hash = ? AND c.expires > ?`, hashToken(secret), Millis(now())))
}

// DeleteSession ends the session whose secret is given.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	_, err := s.Exec(ctx, `DELETE FROM console_session WHERE hash = ?`, hashToken(secret))
	return err
}
