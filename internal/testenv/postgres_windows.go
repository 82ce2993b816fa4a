package testenv

import "testing"

// Postgres skips: the tests start PostgreSQL on Unix systems only.
func Postgres(t testing.TB) string {
	t.Helper()
	t.Skip("PostgreSQL tests run on Unix systems")
	return ""
}
