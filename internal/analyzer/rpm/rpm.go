// Package rpm inventories RPM packages from the rpm database in all three
// of its formats: Berkeley DB (Packages, RHEL/CentOS 7 and 8), NDB
// (Packages.db, SUSE) and SQLite (rpmdb.sqlite, RHEL 9, Fedora, Amazon
// Linux 2023), under var/lib/rpm or usr/lib/sysimage/rpm.
//
// Image content never reaches the host's disk. SQLite databases are opened
// read-only through an in-memory file system (modernc.org/sqlite/vfs) and
// their package headers parsed here. Berkeley DB and NDB databases are read
// with github.com/erikvarga/go-rpmdb, a maintained fork of
// knqyf263/go-rpmdb; that library opens files by path only, so it is given
// an anonymous in-memory file (memfd), which needs Linux.
package rpm

import (
	"bytes"
	"context"
	"path"
	"strconv"
	"strings"
	"time"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Timeout bounds the reading of one database, so that a hostile one (a
// loop of overflow pages) cannot hold the scan.
const Timeout = time.Minute

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
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if IsDatabase(e.Path) && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer. Public keys that rpm keeps as
// gpg-pubkey pseudo-packages are not software and are left out.
func (*Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if f.Truncated {
		r.Warn(f.Path, "rpm database larger than the per-file limit; not read")
		return nil
	}
	if len(f.Content) == 0 {
		return nil
	}
	pkgs, err := Read(ctx, f.Content)
	if err != nil {
		r.Warn(f.Path, "rpm database: "+err.Error())
		return nil
	}
	for _, p := range pkgs {
		if p.Name == "gpg-pubkey" {
			continue
		}
		r.Packages = append(r.Packages, toPackage(p, f.Path))
	}
	return nil
}

// Read lists the packages of an rpm database held in b, in any of the
// three formats.
func Read(ctx context.Context, b []byte) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if bytes.HasPrefix(b, []byte(sqliteMagic)) {
		return readSQLite(ctx, b)
	}
	// Berkeley DB or NDB: go-rpmdb only opens paths. It is never given a
	// SQLite database, which it would open through SQLite's own file
	// handling.
	p, done, err := memoryFile(b)
	if err != nil {
		return nil, err
	}
	defer done()
	db, err := rpmdb.Open(p)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	pkgs, err := db.ListPackagesWithContext(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, Info{Name: p.Name, Version: p.Version, Release: p.Release, Arch: p.Arch, Epoch: p.EpochNum(),
			SourceRPM: p.SourceRpm, License: p.License, Vendor: p.Vendor, Modular: p.Modularitylabel})
	}
	return out, nil
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
