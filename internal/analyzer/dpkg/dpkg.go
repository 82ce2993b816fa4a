// Package dpkg inventories Debian packages from dpkg's database: the status
// file of Debian and Ubuntu images, and the one-file-per-package status.d
// directory of distroless images. Each package's md5sums file says which
// files it installed with which content (Result.Owned).
//
// A package is listed when its files are on disk: Status "installed", or
// one of the transitional states (unpacked, half-configured,
// half-installed, triggers-awaited, triggers-pending), which are recorded
// in Metadata["status"]. Removed packages that only left configuration
// files (config-files) and purged ones (not-installed) are left out.
// Licenses are not recorded: dpkg keeps them only in free-form copyright
// files.
package dpkg

import (
	"context"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Database paths.
const (
	StatusFile = "var/lib/dpkg/status"
	StatusDir  = "var/lib/dpkg/status.d"
)

// Analyzer reads dpkg databases.
type Analyzer struct{}

// New returns the dpkg analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "dpkg" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 2 }

// Need implements analyzer.Analyzer: the status file, the package files
// of status.d, and every package's md5sums (what it installed).
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	switch {
	case !e.IsRegular():
		return analyzer.Skip
	case IsMD5Sums(e.Path):
		return analyzer.NeedUpTo(e, MaxMD5SumsBytes)
	case IsDatabase(e.Path):
		return analyzer.Content
	}
	return analyzer.Skip
}

// IsDatabase reports whether p is the status file or a package file of
// status.d.
func IsDatabase(p string) bool {
	if p == StatusFile {
		return true
	}
	return path.Dir(p) == StatusDir && !strings.HasSuffix(p, ".md5sums")
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if IsMD5Sums(f.Path) {
		if analyzer.Oversized(f, MaxMD5SumsBytes, r, "dpkg md5sums") {
			return nil
		}
		files, err := ParseMD5Sums(f.Content)
		if err != nil {
			r.Warn(f.Path, "dpkg md5sums: "+err.Error())
		}
		r.Owned = append(r.Owned, analyzer.OwnedFiles{DB: f.Path, Package: md5sumsPackage(f.Path), Files: files})
		return nil
	}
	if f.Truncated {
		r.Warn(f.Path, "dpkg database larger than the per-file limit; packages past the limit are missing")
	}
	entries, err := Parse(f.Content)
	if err != nil {
		r.Warn(f.Path, "dpkg database: "+err.Error())
	}
	if f.Truncated && len(entries) > 0 {
		entries = entries[:len(entries)-1] // the last paragraph may be cut short
	}
	for _, e := range entries {
		if !e.HasFiles() {
			continue
		}
		srcName, srcVersion := e.SourcePackage()
		p := model.Package{
			Name:          e.Package,
			Version:       e.Version,
			Type:          model.TypeDeb,
			PURL:          purl.Deb(e.Package, e.Version, e.Architecture),
			Arch:          e.Architecture,
			SourceName:    srcName,
			SourceVersion: srcVersion,
			Path:          f.Path,
		}
		if s := e.State(); s != "installed" {
			p.Metadata = map[string]string{"status": s}
		}
		r.Packages = append(r.Packages, p)
	}
	return nil
}
