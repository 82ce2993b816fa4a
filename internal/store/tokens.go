package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Token roles: read sees everything, admin also changes it.
const (
	RoleRead  = "read"
	RoleAdmin = "admin"
)

// TokenPrefix starts every API token, so that secret scanners (customs's
// own included) recognise one that leaks.
const TokenPrefix = "cst_"

// Token describes an API token; the token itself is never stored.
type Token struct {
	ID       int64     `json:"id"`
	Role     string    `json:"role"`
	Name     string    `json:"name,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
}

// CreateToken makes a new API token with role and returns it: the only
// time it is seen, as only its hash is kept.
func (s *Store) CreateToken(ctx context.Context, role, name string) (string, error) {
	if role != RoleRead && role != RoleAdmin {
		return "", fmt.Errorf("role %q: want %s or %s", role, RoleRead, RoleAdmin)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	if _, err := s.Exec(ctx, `INSERT INTO api_token(hash, role, name, created) VALUES(?, ?, ?, ?)`,
		hashToken(token), role, name, Millis(now())); err != nil {
		return "", err
	}
	return token, nil
}

// Authenticate returns the token's record, or ErrNotFound.
func (s *Store) Authenticate(ctx context.Context, token string) (*Token, error) {
	t, err := scanToken(s.QueryRow(ctx, `SELECT id, role, name, created, last_used FROM api_token WHERE hash = ?`, hashToken(token)))
	if err != nil {
		return nil, err
	}
	// Last use is kept to the minute: no write on every request.
	if n := now(); n.Sub(t.LastUsed) > time.Minute {
		if _, err := s.Exec(ctx, `UPDATE api_token SET last_used = ? WHERE id = ?`, Millis(n), t.ID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// scanToken reads a token's id, role, name, created and last_used
// (ErrNotFound for no row).
func scanToken(row *sql.Row) (*Token, error) {
	var t Token
	var created, used int64
	err := row.Scan(&t.ID, &t.Role, &t.Name, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Created, t.LastUsed = Time(created), Time(used)
	return &t, nil
}

// CountTokens counts the API tokens.
func (s *Store) CountTokens(ctx context.Context) (int, error) {
	var n int
	err := s.QueryRow(ctx, `SELECT COUNT(*) FROM api_token`).Scan(&n)
	return n, err
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
