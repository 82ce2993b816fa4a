package vulndb

import (
	"context"
	"encoding/json"
	"testing"
)

// fingerprint returns the JSON of the fingerprint of the database in dir.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fp, err := db.Fingerprint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(fp)
	return string(b)
}

// TestFingerprint: the fingerprint of a database stays while its records
// do, whatever reads it, and moves when they change.
func TestFingerprint(t *testing.T) {
	dir, feed := t.TempDir(), t.TempDir()
	setFeed(t, feed, "testdata/changes/before")
	mustImport(t, dir, "testdata/osv", feed)
	first := fingerprint(t, dir)
	mustImport(t, dir, feed, "testdata/osv")
	if again := fingerprint(t, dir); again != first {
		t.Fatalf("the same records, fingerprints\n%s\n%s", first, again)
	}
	setFeed(t, feed, "testdata/changes/after")
	mustImport(t, dir, feed)
	if changed := fingerprint(t, dir); changed == first {
		t.Fatalf("records changed, fingerprint did not: %s", changed)
	}
}
