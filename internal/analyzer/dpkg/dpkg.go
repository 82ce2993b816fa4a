// Package dpkg inventories Debian packages from dpkg's database: the status
// file of Debian and Ubuntu images, and the one-file-per-package status.d
// directory of distroless images.
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
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer: the status file and the package files
// of status.d (not their .md5sums).
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if IsDatabase(e.Path) && e.IsRegular() {
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
