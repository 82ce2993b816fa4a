package rpm

import (
	"context"
	"database/sql"
	"fmt"
	"testing/fstest"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
	"modernc.org/sqlite/vfs"
)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// sqliteBlobs returns the header blobs of an rpmdb.sqlite held in b. The
// database is opened read-only and immutable through an in-memory file
// system, so SQLite neither touches the host's disk nor looks for -wal or
// -shm files.
func sqliteBlobs(ctx context.Context, b []byte, probs *problems) [][]byte {
	if len(b) > 20 && (b[18] == 2 || b[19] == 2) {
		// A WAL-mode database: read it as a rollback-journal one (rpm
		// checkpoints the WAL when it closes the database).
		b = append([]byte(nil), b...)
		b[18], b[19] = 1, 1
	}
	name, fsys, err := vfs.New(fstest.MapFS{"rpmdb.sqlite": {Data: b}})
	if err != nil {
		probs.add(fmt.Errorf("in-memory sqlite: %w", err))
		return nil
	}
	defer fsys.Close()
	db, err := sql.Open("sqlite", "file:rpmdb.sqlite?mode=ro&immutable=1&vfs="+name)
	if err != nil {
		probs.add(err)
		return nil
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		probs.add(err)
		return nil
	}
	defer rows.Close()
	var blobs [][]byte
	for rows.Next() {
		if len(blobs) == maxPackages {
			probs.add(fmt.Errorf("more than %d packages", maxPackages))
			break
		}
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			probs.add(err)
			break
		}
		blobs = append(blobs, blob)
	}
	probs.add(rows.Err())
	return blobs
}
