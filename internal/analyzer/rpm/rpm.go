// Package rpm inventories RPM packages from the rpm database in all three
// of its formats: Berkeley DB (Packages, RHEL/CentOS 7 and 8), NDB
// (Packages.db, SUSE) and SQLite (rpmdb.sqlite, RHEL 9, Fedora, Amazon
// Linux 2023), under var/lib/rpm or usr/lib/sysimage/rpm.
//
// Image content never reaches the host's disk. SQLite databases are opened
// read-only through an in-memory file system (modernc.org/sqlite/vfs).
// Berkeley DB and NDB databases are read here, from the bytes in memory,
// with every page or slot read at most once and every count bounded, so a
// hostile database costs at most time and memory in proportion to its
// size. Each format yields package header blobs, which ParseHeader reads.
package rpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Timeout bounds the reading of one database.
const Timeout = time.Minute

// Limits on what one database may hold.
const (
	maxPackages = 100_000
	maxBlob     = 64 << 20
	// maxProblems stops the reading of a database that is mostly damage.
	maxProblems = 100
)

// dirs hold the rpm database.
var dirs = []string{"var/lib/rpm", "usr/lib/sysimage/rpm"}

// files are the database files, one per format.
var files = []string{"Packages", "Packages.db", "rpmdb.sqlite"}

// IsDatabase reports whether p is an rpm database file.
func IsDatabase(p string) bool {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	for _, d := range dirs {
		if dir == d {
			for _, f := range files {
				if base == f {
					return true
				}
			}
		}
	}
	return false
}

// Analyzer reads rpm databases.
type Analyzer struct{}

// New returns the rpm analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "rpm" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 3 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if IsDatabase(e.Path) && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer. Public keys that rpm keeps as
// gpg-pubkey pseudo-packages are not software and are left out. The
// packages of a damaged database that could be read are kept, with a
// warning.
func (*Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if f.Truncated {
		r.Warn(f.Path, "rpm database larger than the per-file limit; not read")
		return nil
	}
	if len(f.Content) == 0 {
		return nil
	}
	pkgs, err := Read(ctx, f.Content)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Out of time, not a property of the layer: do not cache.
		r.Incomplete = true
	}
	for _, p := range pkgs {
		if p.Name == "gpg-pubkey" {
			continue
		}
		r.Packages = append(r.Packages, toPackage(p, f.Path))
		if len(p.Files) > 0 {
			r.Owned = append(r.Owned, analyzer.OwnedFiles{DB: f.Path, Package: p.Name, Files: p.Files})
		}
	}
	if err != nil {
		r.Warn(f.Path, "rpm database: "+err.Error())
	}
	return nil
}

// Read lists the packages of an rpm database held in b, in any of the
// three formats. When the database is damaged it returns the packages it
// could read and an error describing the damage.
func Read(ctx context.Context, b []byte) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var blobs [][]byte
	var probs problems
	switch {
	case bytes.HasPrefix(b, []byte(sqliteMagic)):
		blobs = sqliteBlobs(ctx, b, &probs)
	case isNDB(b):
		blobs = ndbBlobs(ctx, b, &probs)
	case isBDB(b):
		blobs = bdbBlobs(ctx, b, &probs)
	default:
		return nil, errors.New("not a Berkeley DB, NDB or SQLite database")
	}
	out := make([]Info, 0, len(blobs))
	for i, blob := range blobs {
		if probs.tooMany() {
			break
		}
		info, err := ParseHeader(blob)
		if err != nil {
			probs.add(fmt.Errorf("header %d: %w", i+1, err))
			continue
		}
		out = append(out, info)
	}
	err := probs.err()
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		// The context ended inside a reader that reports it otherwise
		// (SQLite's interrupt), or after the last check.
		if err == nil {
			return out, cerr
		}
		err = fmt.Errorf("%w; %w", err, cerr)
	}
	return out, err
}

// problems keeps the first of the problems met while reading a database
// goes on, and counts the others. Readers stop at maxProblems, so the
// errors made for a database that is mostly damage stay few.
type problems struct {
	first error
	n     int
}

// add records err, if not nil.
func (p *problems) add(err error) {
	if err == nil {
		return
	}
	if p.first == nil {
		p.first = err
	}
	p.n++
}

// tooMany reports whether reading should stop.
func (p *problems) tooMany() bool { return p.n >= maxProblems }

// err summarizes the problems, or is nil when there were none.
func (p *problems) err() error {
	if p.tooMany() {
		return fmt.Errorf("%w (and %d more problems; reading stopped)", p.first, p.n-1)
	}
	if p.n > 1 {
		return fmt.Errorf("%w (and %d more problems)", p.first, p.n-1)
	}
	return p.first
}

func toPackage(p Info, dbPath string) model.Package {
	epoch := p.Epoch
	version := p.Version + "-" + p.Release
	if epoch > 0 {
		version = strconv.Itoa(epoch) + ":" + version
	}
	pkg := model.Package{
		Name:    p.Name,
		Version: version,
		Type:    model.TypeRPM,
		PURL:    purl.RPM(p.Name, p.Version, p.Release, p.Arch, epoch),
		Arch:    p.Arch,
		Path:    dbPath,
	}
	if name, ver, rel, ok := SplitSourceRPM(p.SourceRPM); ok {
		pkg.SourceName = name
		pkg.SourceVersion = ver + "-" + rel
		if epoch > 0 {
			pkg.SourceVersion = strconv.Itoa(epoch) + ":" + pkg.SourceVersion
		}
	}
	if p.License != "" {
		pkg.Licenses = []string{p.License}
	}
	md := map[string]string{}
	if p.Vendor != "" {
		md["vendor"] = p.Vendor
	}
	if p.Modular != "" {
		md["modularitylabel"] = p.Modular
	}
	if len(md) > 0 {
		pkg.Metadata = md
	}
	return pkg
}

// SplitSourceRPM splits a source RPM file name,
// "openssl-3.0.7-25.el9.src.rpm", into name, version and release.
func SplitSourceRPM(s string) (name, version, release string, ok bool) {
	s, ok = strings.CutSuffix(s, ".rpm")
	if !ok {
		return "", "", "", false
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[:i] // .src or .nosrc
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", "", false
	}
	s, release = s[:i], s[i+1:]
	i = strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", "", false
	}
	return s[:i], s[i+1:], release, release != "" && s[i+1:] != ""
}
