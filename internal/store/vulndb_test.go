package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/customs-scanner/customs/internal/vulndb"
)

// osvRecord is a fixture OSV record file.
func osvRecord(name string) string { return filepath.Join("..", "vulndb", "testdata", "osv", name) }

func importInto(t *testing.T, dir string, paths ...string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := vulndb.Import(ctx, dir, paths); err != nil {
		t.Fatal(err)
	}
	gen, err := fileGeneration(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

func dbFile(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, vulndb.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVulnDB: a published database comes back byte for byte in another
// directory, in many chunks; a directory that holds it is left alone; a
// database built on an older one is refused; a damaged chunk fails the
// fetch and leaves the directory as it was.
func TestVulnDB(t *testing.T) {
	defer func(n int) { vulnDBChunk = n }(vulnDBChunk)
	vulnDBChunk = 4096
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		empty := t.TempDir()
		if gen, err := s.VulnDBGeneration(ctx); gen != 0 || err != nil {
			t.Fatalf("generation of no database: %d %v", gen, err)
		}
		if gen, changed, err := s.FetchVulnDB(ctx, empty); gen != 0 || changed || err != nil {
			t.Fatalf("fetch of no database: %d %t %v", gen, changed, err)
		}
		if _, err := os.Stat(filepath.Join(empty, vulndb.FileName)); !os.IsNotExist(err) {
			t.Fatalf("a file was written: %v", err)
		}

		a := t.TempDir()
		genA := importInto(t, a, osvRecord("DSA-5532-1.json"))
		if len(dbFile(t, a)) <= 2*vulnDBChunk {
			t.Fatalf("a database of %d bytes tests no chunking", len(dbFile(t, a)))
		}
		if gen, err := s.PublishVulnDB(ctx, a); err != nil || gen != genA {
			t.Fatalf("publish: %d %v, want %d", gen, err, genA)
		}
		if gen, err := s.PublishVulnDB(ctx, a); err != nil || gen != genA {
			t.Fatalf("publish again: %d %v", gen, err)
		}
		in, err := s.VulnDB(ctx)
		if err != nil || in.Generation != genA || in.Size != int64(len(dbFile(t, a))) || in.Published.IsZero() {
			t.Fatalf("stored: %+v %v", in, err)
		}

		b := t.TempDir()
		if gen, changed, err := s.FetchVulnDB(ctx, b); gen != genA || !changed || err != nil {
			t.Fatalf("fetch: %d %t %v", gen, changed, err)
		}
		if !bytes.Equal(dbFile(t, a), dbFile(t, b)) {
			t.Fatal("the fetched database differs from the published one")
		}
		before, _ := os.Stat(filepath.Join(b, vulndb.FileName))
		if gen, changed, err := s.FetchVulnDB(ctx, b); gen != genA || changed || err != nil {
			t.Fatalf("fetch of what the directory holds: %d %t %v", gen, changed, err)
		}
		if after, _ := os.Stat(filepath.Join(b, vulndb.FileName)); !os.SameFile(before, after) {
			t.Error("the file was rewritten though it was the same")
		}

		// Built on the stored database: the generation moves on.
		genB := importInto(t, b, osvRecord("GHSA-jf85-cpcp-j695.json"))
		if genB <= genA {
			t.Fatalf("generation %d after %d", genB, genA)
		}
		if gen, err := s.PublishVulnDB(ctx, b); err != nil || gen != genB {
			t.Fatalf("publish B: %d %v", gen, err)
		}
		if gen, err := s.VulnDBGeneration(ctx); gen != genB || err != nil {
			t.Fatalf("generation %d %v, want %d", gen, err, genB)
		}
		// A rebuilt from the older state would undo B.
		if _, err := s.PublishVulnDB(ctx, a); !errors.Is(err, ErrVulnDBOutdated) {
			t.Fatalf("an older database was published: %v", err)
		}
		if gen, changed, err := s.FetchVulnDB(ctx, a); gen != genB || !changed || err != nil {
			t.Fatalf("fetch B over A: %d %t %v", gen, changed, err)
		}
		db, err := vulndb.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := db.ByID(ctx, []string{"DSA-5532-1", "GHSA-jf85-cpcp-j695"})
		db.Close()
		if err != nil || len(recs["DSA-5532-1"]) != 1 || len(recs["GHSA-jf85-cpcp-j695"]) != 1 {
			t.Fatalf("records of the fetched database: %v %v", recs, err)
		}
		var n int
		if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM vulndb_chunk`).Scan(&n); err != nil || int64(n) != (int64(len(dbFile(t, b)))+int64(vulnDBChunk)-1)/int64(vulnDBChunk) {
			t.Errorf("%d chunks stored (%v): the replaced database's are not all gone", n, err)
		}

		// A damaged chunk: the fetch fails, the directory keeps its file
		// and no temporary file.
		c := t.TempDir()
		importInto(t, c, osvRecord("MAL-2022-9.json"))
		held := dbFile(t, c)
		if _, err := s.Exec(ctx, `UPDATE vulndb_chunk SET data = ? WHERE seq = 1`, []byte("damaged")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.FetchVulnDB(ctx, c); err == nil {
			t.Fatal("a damaged database was fetched")
		}
		if !bytes.Equal(held, dbFile(t, c)) {
			t.Error("a failed fetch changed the directory's database")
		}
		if left, _ := filepath.Glob(filepath.Join(c, "*fetch*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}

		// Not a vulnerability database: refused.
		junk := t.TempDir()
		os.WriteFile(filepath.Join(junk, vulndb.FileName), []byte("not sqlite"), 0o644)
		if _, err := s.PublishVulnDB(ctx, junk); err == nil {
			t.Error("a file that is no vulnerability database was published")
		}
	})
}

// TestMigrateOutOfOrder: a database migrated before version 3 existed,
// but after 4, gets version 3 on the next Migrate.
func TestMigrateOutOfOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, q := range []string{`DROP TABLE vulndb`, `DROP TABLE vulndb_chunk`, `DELETE FROM customs_migration WHERE version = 3`} {
			if _, err := s.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if gen, err := s.VulnDBGeneration(ctx); gen != 0 || err != nil {
			t.Fatalf("version 3 not applied: %d %v", gen, err)
		}
	})
}
