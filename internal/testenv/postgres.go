//go:build !windows

package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresEnv names a PostgreSQL server to use instead of starting one: a
// postgres:// URL of a role that may create databases.
const PostgresEnv = "CUSTOMS_TEST_POSTGRES"

var pgDatabases atomic.Int64

// Postgres returns the URL of a new, empty PostgreSQL database. The server
// is $CUSTOMS_TEST_POSTGRES when set, else a cluster made with initdb and
// started with pg_ctl's postgres under a temporary directory, once per
// test binary, listening only on a Unix socket there. Each call creates
// a database of its own, so tests never see each other's rows.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		s := get("postgres")
		s.once.Do(func() { startPostgres(s) })
		if s.addr == "" {
			unavailable(t, s, "PostgreSQL")
		}
		admin = (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
			RawQuery: url.Values{"host": {filepath.Dir(s.addr)}}.Encode()}).String()
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("customs_test_%d_%d", os.Getpid(), pgDatabases.Add(1))
	if _, err := db.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// startPostgres makes a cluster owned by the postgres account (which the
// Debian package creates) and starts its server.
func startPostgres(s *service) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Strings(bins)
	if len(bins) == 0 {
		s.err, s.skip = fmt.Errorf("PostgreSQL is not installed (apt-get install postgresql, listed in .ci/packages.txt)"), true
		return
	}
	postgres := bins[len(bins)-1]
	account, err := user.Lookup("postgres")
	if err != nil {
		s.err, s.skip = fmt.Errorf("no postgres account: %v", err), true
		return
	}
	uid, _ := strconv.Atoi(account.Uid)
	gid, _ := strconv.Atoi(account.Gid)
	// The server refuses to run as root: it runs as the postgres account.
	s.attr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	s.stopSignal = syscall.SIGINT // fast shutdown: ends open sessions
	s.start(postgres, []string{"-D", "{dir}/data", "-k", "{dir}", "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "max_connections=200"},
		".s.PGSQL.5432", func(sock string) error {
			db, err := sql.Open("pgx", "postgres://postgres@/postgres?host="+url.QueryEscape(filepath.Dir(sock)))
			if err != nil {
				return err
			}
			defer db.Close()
			ctx, cancel := probeCtx()
			defer cancel()
			return db.PingContext(ctx)
		}, func(dir string) error {
			if err := os.Chown(dir, uid, gid); err != nil {
				return err
			}
			initdb := exec.Command(filepath.Join(filepath.Dir(postgres), "initdb"), "-D", filepath.Join(dir, "data"),
				"-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
			initdb.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			if out, err := initdb.CombinedOutput(); err != nil {
				return fmt.Errorf("initdb: %v: %s", err, out)
			}
			return nil
		})
}
