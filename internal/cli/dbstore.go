package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/store"
)

// dbTarget is where `customs db` works: a database directory alone
// (--db-dir), or a server's store (--data-dir, --database) with a local
// working copy the database is built in and published from.
type dbTarget struct {
	dir      string
	dataDir  string
	database string
}

func (t *dbTarget) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&t.dir, "db-dir", defaultDBDir(), "vulnerability database directory (with --data-dir or --database: the working copy to build in, DATA_DIR/db or a directory under the cache for PostgreSQL unless given)")
	fl.StringVar(&t.dataDir, "data-dir", "", "the server's data directory: work on the vulnerability database of its embedded store (customs.db)")
	// The environment is read when the command runs: a default would show
	// the URL's password in --help.
	fl.StringVar(&t.database, "database", "", "the server's PostgreSQL store (postgres://...; default $"+EnvDatabase+"): work on its vulnerability database")
}

// inStore reports whether the command works on a server's store, taking
// --database from the environment when the flag is not given.
func (t *dbTarget) inStore() bool {
	if t.database == "" {
		t.database = os.Getenv(EnvDatabase)
	}
	return t.dataDir != "" || t.database != ""
}

// openStore opens and migrates the store and settles the working
// directory: --db-dir when given, else DATA_DIR/db, else (PostgreSQL
// alone) a directory under the cache named after the database.
func (t *dbTarget) openStore(cmd *cobra.Command) (*store.Store, error) {
	ctx := cmd.Context()
	s, err := store.Open(ctx, t.database, t.dataDir)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	switch {
	case cmd.Flags().Changed("db-dir"):
	case t.dataDir != "":
		t.dir = filepath.Join(t.dataDir, "db")
	default:
		sum := sha256.Sum256([]byte(s.Where))
		t.dir = filepath.Join(cache.DefaultDir(), "vulndb-"+hex.EncodeToString(sum[:6]))
	}
	return s, nil
}

// build runs fn, which builds the database in the target's directory.
// On a store, the directory first takes the stored database (so a build
// carries its records and generation on), and the result is published.
func (t *dbTarget) build(cmd *cobra.Command, stdout io.Writer, fn func() error) error {
	if !t.inStore() {
		return fn()
	}
	ctx := cmd.Context()
	s, err := t.openStore(cmd)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer s.Close()
	var buildErr error
	gen, err := s.BuildVulnDB(ctx, t.dir, func() error { buildErr = fn(); return buildErr })
	if buildErr != nil {
		return buildErr
	}
	if errors.Is(err, store.ErrVulnDBOutdated) {
		return &exitError{ExitError, fmt.Errorf("%s: %w: another update was published meanwhile; run the command again to build on it", s.Where, err)}
	}
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("%s: %w", s.Where, err)}
	}
	fmt.Fprintf(stdout, "Published: generation %d to %s\n", gen, s.Where)
	return nil
}

// storeInfo brings the working copy up to the store's database and
// describes it; nil when the command works on a directory alone.
func (t *dbTarget) storeInfo(cmd *cobra.Command) (*storedDB, error) {
	if !t.inStore() {
		return nil, nil
	}
	s, err := t.openStore(cmd)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	in, err := s.VulnDB(cmd.Context())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("the store %s holds no vulnerability database: run `customs db update` or `customs db import FILE` with the same --data-dir or --database", s.Where)
	}
	if err != nil {
		return nil, err
	}
	if _, _, err := s.FetchVulnDB(cmd.Context(), t.dir); err != nil {
		return nil, err
	}
	return &storedDB{Where: s.Where, VulnDBInfo: *in}, nil
}

// storedDB describes the database a store holds.
type storedDB struct {
	Where string `json:"where"`
	store.VulnDBInfo
}

func (d *storedDB) write(w io.Writer) {
	fmt.Fprintf(w, "Store:    %s: generation %d, published %s (%s ago), SHA-256 %s\n",
		d.Where, d.Generation, d.Published.Format(time.RFC3339), time.Since(d.Published).Round(time.Second), d.SHA256)
}
