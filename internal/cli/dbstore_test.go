package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// recordIDs lists the ids of the records of the database in dir.
func recordIDs(t *testing.T, dir string) (int64, []string) {
	t.Helper()
	ctx := context.Background()
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	gen, err := db.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Lookup(ctx, "Debian", "glibc")
	if err != nil {
		t.Fatal(err)
	}
	more, err := db.Lookup(ctx, "Debian", "openssl")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range append(recs, more...) {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return gen, slices.Compact(ids)
}

// TestDBStore: `db import` with a server's store builds on the stored
// database and publishes the result; a fetch elsewhere gets the same
// generation and records; `db status` shows the stored generation; an
// import that fails publishes nothing.
func TestDBStore(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags func(t *testing.T) (flags []string, database, dataDir string)
	}{
		{"sqlite", func(t *testing.T) ([]string, string, string) {
			d := t.TempDir()
			return []string{"--data-dir", d}, "", d
		}},
		{"postgres", func(t *testing.T) ([]string, string, string) {
			u := testenv.Postgres(t)
			// The working copy goes under the cache.
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			return []string{"--database", u}, u, ""
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			flags, database, dataDir := c.flags(t)
			osv := func(name string) string { return filepath.Join("..", "vulndb", "testdata", "osv", name) }
			imp := func(paths ...string) (int, string, string) {
				return runDB(t, append(append([]string{"import"}, flags...), paths...)...)
			}
			code, out, errOut := imp(osv("DSA-5532-1.json"))
			if code != 0 || !strings.Contains(out, "Published: generation ") {
				t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
			}
			s, err := store.Open(ctx, database, dataDir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			first, err := s.VulnDBGeneration(ctx)
			if err != nil || first == 0 || !strings.Contains(out, "Published: generation "+strconv.FormatInt(first, 10)) {
				t.Fatalf("stored generation %d %v\n%s", first, err, out)
			}

			// The second import adds to the stored database.
			if code, out, errOut := imp(osv("DSA-5514-1.json")); code != 0 {
				t.Fatalf("second import: exit %d\n%s%s", code, out, errOut)
			}
			elsewhere := t.TempDir()
			gen, changed, err := s.FetchVulnDB(ctx, elsewhere)
			if err != nil || !changed || gen <= first {
				t.Fatalf("fetch: %d %t %v (first generation %d)", gen, changed, err, first)
			}
			fetchedGen, ids := recordIDs(t, elsewhere)
			if fetchedGen != gen || !slices.Equal(ids, []string{"DSA-5514-1", "DSA-5532-1"}) {
				t.Fatalf("fetched database: generation %d (stored %d), records %v", fetchedGen, gen, ids)
			}
			// The working copy the CLI published is the same database.
			work := filepath.Join(dataDir, "db")
			if database != "" {
				matches, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "customs", "vulndb-*"))
				if len(matches) != 1 {
					t.Fatalf("working copies under the cache: %v", matches)
				}
				work = matches[0]
			}
			a, _ := os.ReadFile(filepath.Join(work, vulndb.FileName))
			b, _ := os.ReadFile(filepath.Join(elsewhere, vulndb.FileName))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Fatal("the fetched database differs from the published working copy")
			}

			statusFlags := flags
			if database != "" {
				// --database from the environment.
				t.Setenv(EnvDatabase, database)
				statusFlags = nil
			}
			code, js, errOut := runDB(t, append([]string{"status", "--json"}, statusFlags...)...)
			var st struct {
				Records int `json:"records"`
				Store   struct {
					Where      string `json:"where"`
					Generation int64  `json:"generation"`
				} `json:"store"`
			}
			if err := json.Unmarshal([]byte(js), &st); err != nil || code != 0 || st.Store.Generation != gen || st.Records != 2 || st.Store.Where != s.Where {
				t.Fatalf("status --json: exit %d %v %+v\n%s%s", code, err, st, js, errOut)
			}
			if code, text, _ := runDB(t, append([]string{"status"}, statusFlags...)...); code != 0 || !strings.Contains(text, "Store:    "+s.Where+": generation "+strconv.FormatInt(gen, 10)) {
				t.Errorf("status: exit %d\n%s", code, text)
			}

			garbage := filepath.Join(t.TempDir(), "garbage.json")
			os.WriteFile(garbage, []byte(`{"name": "0-dns"}`), 0o644)
			if code, out, _ := imp(garbage); code != ExitError || strings.Contains(out, "Published") {
				t.Errorf("garbage import: exit %d\n%s", code, out)
			}
			if after, err := s.VulnDBGeneration(ctx); after != gen || err != nil {
				t.Errorf("a failed import changed the stored generation to %d (%v)", after, err)
			}
		})
	}
}

// TestDBStoreNone: status of a store without a database says how to
// make one.
func TestDBStoreNone(t *testing.T) {
	code, _, errOut := runDB(t, "status", "--data-dir", t.TempDir())
	if code != ExitError || !strings.Contains(errOut, "holds no vulnerability database") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := runDB(t, "status", "--database", "mysql://x"); code != ExitError || !strings.Contains(errOut, "postgres://") {
		t.Errorf("another database: exit %d: %s", code, errOut)
	}
}
