// Package osrelease detects the operating system of an image from the
// files distributions ship for the purpose: os-release first, then the
// distribution's own release files, then etc/debian_version, and for
// distroless Debian images without any of them, the version of base-files
// in dpkg's status.d. Each file gives an OS record with a priority; the
// engine keeps the record of highest priority among files that are final
// in the image.
package osrelease

import (
	"context"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/dpkg"
	"github.com/customs-scanner/customs/internal/model"
)

// Priorities of the records each file gives; higher wins.
const (
	PriorityEtcOSRelease    = 100
	PriorityUsrLibOSRelease = 90
	PriorityDistroRelease   = 60 // rocky-release, alpine-release, SuSE-release, ...
	PriorityRedHatRelease   = 50
	PrioritySystemRelease   = 40
	PriorityDebianVersion   = 30
	PriorityBaseFiles       = 10
)

type parser struct {
	priority int
	parse    func([]byte) (model.OS, bool)
}

var parsers = map[string]parser{
	"etc/os-release":        {PriorityEtcOSRelease, osRelease},
	"usr/lib/os-release":    {PriorityUsrLibOSRelease, osRelease},
	"etc/alpine-release":    {PriorityDistroRelease, ParseAlpineRelease},
	"etc/centos-release":    {PriorityDistroRelease, ParseReleaseLine},
	"etc/rocky-release":     {PriorityDistroRelease, ParseReleaseLine},
	"etc/almalinux-release": {PriorityDistroRelease, ParseReleaseLine},
	"etc/fedora-release":    {PriorityDistroRelease, ParseReleaseLine},
	"etc/oracle-release":    {PriorityDistroRelease, ParseReleaseLine},
	"etc/SuSE-release":      {PriorityDistroRelease, ParseSuSERelease},
	"etc/redhat-release":    {PriorityRedHatRelease, ParseReleaseLine},
	"etc/system-release":    {PrioritySystemRelease, ParseReleaseLine},
	"etc/debian_version":    {PriorityDebianVersion, ParseDebianVersion},
}

func osRelease(b []byte) (model.OS, bool) { return FromOSRelease(ParseOSRelease(b)) }

// statusD reads a distroless status.d file: when it describes base-files
// (the file is usually named after the package, though older images used
// other names), its version tells the release ("12.4+deb12u5" gives
// Debian 12).
var statusD = parser{PriorityBaseFiles, parseBaseFiles}

// parseBaseFiles reads the version of base-files from a status.d file.
func parseBaseFiles(b []byte) (model.OS, bool) {
	entries, _ := dpkg.Parse(head(b))
	for _, e := range entries {
		if e.Package == "base-files" {
			return ParseDebianVersion([]byte(e.Version))
		}
	}
	return model.OS{}, false
}

// Analyzer detects the operating system.
type Analyzer struct{}

// New returns the os-release analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "os-release" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if _, ok := parserFor(e.Path); ok && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer. A Debian os-release without
// VERSION_ID (testing, unstable) takes its version from debian_version in
// the same layer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	p, _ := parserFor(f.Path)
	os, ok := p.parse(f.Content)
	if !ok {
		if p.priority != PriorityBaseFiles {
			r.Warn(f.Path, "no operating system could be read from it")
		}
		return nil
	}
	rec := analyzer.OSRecord{Path: f.Path, OS: os, Priority: p.priority}
	for i := range r.OS {
		other := &r.OS[i]
		switch {
		case rec.Priority == PriorityDebianVersion && isOSRelease(other.Priority) && other.OS.Family == "debian" && other.OS.Version == "":
			other.OS.Version = os.Version
		case isOSRelease(rec.Priority) && rec.OS.Family == "debian" && rec.OS.Version == "" && other.Priority == PriorityDebianVersion:
			rec.OS.Version = other.OS.Version
		}
	}
	r.OS = append(r.OS, rec)
	return nil
}

func parserFor(p string) (parser, bool) {
	if q, ok := parsers[p]; ok {
		return q, true
	}
	if dpkg.IsDatabase(p) && p != dpkg.StatusFile {
		return statusD, true
	}
	return parser{}, false
}

func isOSRelease(priority int) bool {
	return priority == PriorityEtcOSRelease || priority == PriorityUsrLibOSRelease
}
