package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/customs-scanner/customs/internal/vulndb"
)

// vulnDBChunk is the size of the pieces a vulnerability database is
// stored in: each is one row, read and written whole (a variable so
// tests cut small databases into many pieces).
var vulnDBChunk = 4 << 20

// MaxVulnDBBytes bounds the vulnerability database the store takes and
// gives back.
const MaxVulnDBBytes = 16 << 30

// publishLock is the PostgreSQL advisory lock that serialises publishers
// of the vulnerability database (SQLite's write lock does on SQLite).
const publishLock = 27995161429503348

// ErrVulnDBOutdated is returned by PublishVulnDB when the store already
// holds another database of the same or a later generation: the one
// offered was built from an older state and would undo a change.
var ErrVulnDBOutdated = errors.New("the store holds a newer vulnerability database")

// VulnDBInfo describes the vulnerability database the store holds.
type VulnDBInfo struct {
	// Generation is the database's vulndb generation.
	Generation int64 `json:"generation"`
	// SHA256 is the hex SHA-256 of the vuln.db file.
	SHA256 string `json:"sha256"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// Published is when it was stored.
	Published time.Time `json:"published"`
}

// VulnDB describes the stored vulnerability database, or returns
// ErrNotFound when none was published.
func (s *Store) VulnDB(ctx context.Context) (*VulnDBInfo, error) {
	var in VulnDBInfo
	var ms int64
	err := s.QueryRow(ctx, `SELECT generation, sha256, size, published FROM vulndb WHERE id = 1`).Scan(&in.Generation, &in.SHA256, &in.Size, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	in.Published = Time(ms)
	return &in, nil
}

// VulnDBGeneration returns the stored vulnerability database's
// generation, 0 when none was published. It reads one row: cheap enough
// to poll.
func (s *Store) VulnDBGeneration(ctx context.Context) (int64, error) {
	in, err := s.VulnDB(ctx)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return in.Generation, nil
}

// PublishVulnDB stores the vulnerability database in dir (its
// vulndb.FileName, as vulndb builds it) in place of the one the store
// holds, in one transaction, and returns its generation. Publishing the
// database the store already holds changes nothing. A different database
// whose generation is not above the stored one is refused with
// ErrVulnDBOutdated: build on the stored one (FetchVulnDB) and publish
// again.
func (s *Store) PublishVulnDB(ctx context.Context, dir string) (int64, error) {
	path := filepath.Join(dir, vulndb.FileName)
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() > MaxVulnDBBytes {
		return 0, fmt.Errorf("%s: %d bytes, more than the store takes (%d)", path, fi.Size(), int64(MaxVulnDBBytes))
	}
	gen, err := fileGeneration(ctx, dir)
	if err != nil {
		return 0, err
	}
	// The generation must be the open file's: a build swapping in another
	// file meanwhile is caught here.
	if now, err := os.Stat(path); err != nil || !os.SameFile(fi, now) {
		return 0, fmt.Errorf("%s was replaced while being published: publish again", path)
	}
	sum, err := hashReader(f, fi.Size())
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		if s.Dialect == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, publishLock); err != nil {
				return err
			}
		}
		var curGen int64
		var curSum string
		switch err := tx.QueryRow(ctx, `SELECT generation, sha256 FROM vulndb WHERE id = 1`).Scan(&curGen, &curSum); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case curSum == sum:
			return errUnchanged
		case gen <= curGen:
			return fmt.Errorf("%w (generation %d; this one is %d): build on the stored one and publish again", ErrVulnDBOutdated, curGen, gen)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vulndb_chunk`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vulndb`); err != nil {
			return err
		}
		h := sha256.New()
		buf := make([]byte, vulnDBChunk)
		n := 0
		for ; ; n++ {
			k, err := io.ReadFull(f, buf)
			if k > 0 {
				h.Write(buf[:k])
				if _, err := tx.Exec(ctx, `INSERT INTO vulndb_chunk(sha256, seq, data) VALUES(?, ?, ?)`, sum, n, buf[:k]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if k > 0 {
					n++
				}
				break
			}
			if err != nil {
				return err
			}
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			return fmt.Errorf("%s changed while being published: publish again", path)
		}
		_, err := tx.Exec(ctx, `INSERT INTO vulndb(id, generation, sha256, size, chunks, published) VALUES(1, ?, ?, ?, ?, ?)`,
			gen, sum, fi.Size(), n, Millis(now()))
		return err
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return 0, err
	}
	return gen, nil
}

// errUnchanged ends a publishing transaction that has nothing to do.
var errUnchanged = errors.New("unchanged")

// FetchVulnDB makes dir's vulndb.FileName the stored vulnerability
// database and returns its generation. changed is false when dir already
// held it (same generation, size and SHA-256) and was left alone;
// otherwise the file is written beside it, checked against the stored
// size and SHA-256, and renamed over it, so a reader of dir sees the old
// database or the new one, never a part. When the store holds no
// database FetchVulnDB returns 0, false and no error, and leaves dir
// alone.
func (s *Store) FetchVulnDB(ctx context.Context, dir string) (generation int64, changed bool, err error) {
	in, err := s.VulnDB(ctx)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if same, err := holds(ctx, dir, in); err != nil || same {
		return in.Generation, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, false, err
	}
	tmp, err := os.CreateTemp(dir, vulndb.FileName+".fetch-*")
	if err != nil {
		return 0, false, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	got, err := s.writeVulnDB(ctx, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, false, fmt.Errorf("fetching the vulnerability database from %s: %w", s.Where, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, vulndb.FileName)); err != nil {
		return 0, false, err
	}
	return got.Generation, true, nil
}

// writeVulnDB writes the stored database to w, synced, and returns what
// it wrote. One query reads the description and every chunk, so a
// database published meanwhile is not mixed in.
func (s *Store) writeVulnDB(ctx context.Context, w *os.File) (*VulnDBInfo, error) {
	rows, err := s.Query(ctx, `SELECT v.generation, v.sha256, v.size, v.chunks, c.seq, c.data FROM vulndb v
		JOIN vulndb_chunk c ON c.sha256 = v.sha256 WHERE v.id = 1 ORDER BY c.seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var in VulnDBInfo
	var chunks, seq int64
	var data sql.RawBytes
	h := sha256.New()
	var written, want int64
	for ; rows.Next(); want++ {
		if err := rows.Scan(&in.Generation, &in.SHA256, &in.Size, &chunks, &seq, &data); err != nil {
			return nil, err
		}
		switch {
		case in.Size < 0 || in.Size > MaxVulnDBBytes:
			return nil, fmt.Errorf("stored size %d out of bounds", in.Size)
		case seq != want || want >= chunks:
			return nil, fmt.Errorf("chunk %d of %d where %d was expected", seq, chunks, want)
		case len(data) > vulnDBChunk || written+int64(len(data)) > in.Size:
			return nil, fmt.Errorf("chunk %d is larger than the stored size allows", seq)
		}
		h.Write(data)
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		written += int64(len(data))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if want == 0 {
		return nil, errors.New("the database was removed while being fetched")
	}
	if want != chunks || written != in.Size || hex.EncodeToString(h.Sum(nil)) != in.SHA256 {
		return nil, fmt.Errorf("read %d chunks, %d bytes, not the stored %d chunks, %d bytes with SHA-256 %s", want, written, chunks, in.Size, in.SHA256)
	}
	return &in, w.Sync()
}

// holds reports whether dir already holds the database in describes.
func holds(ctx context.Context, dir string, in *VulnDBInfo) (bool, error) {
	path := filepath.Join(dir, vulndb.FileName)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != in.Size {
		return false, nil
	}
	if gen, err := fileGeneration(ctx, dir); err != nil || gen != in.Generation {
		return false, nil // missing, unreadable or another: replaced
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sum, err := hashReader(f, in.Size)
	if err != nil {
		return false, nil
	}
	return sum == in.SHA256, nil
}

// fileGeneration opens the vulnerability database in dir for its
// generation.
func fileGeneration(ctx context.Context, dir string) (int64, error) {
	db, err := vulndb.Open(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Generation(ctx)
}

// hashReader is the hex SHA-256 of r, which must hold exactly size bytes.
func hashReader(r io.Reader, size int64) (string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, size+1))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("%d bytes where %d were expected", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
