package dpkg

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Limits on what Parse accepts from one database file. Real databases stay
// far below them; a file beyond them is hostile or broken.
const (
	// MaxPackages is how many paragraphs one file may describe.
	MaxPackages = 100_000
	// MaxValueBytes is how long a kept field value may be.
	MaxValueBytes = 4096
)

// ErrTooMany says that a file describes more than MaxPackages packages;
// Parse returns the first MaxPackages with it.
var ErrTooMany = fmt.Errorf("more than %d packages in one file", MaxPackages)

// Entry is one control paragraph of a dpkg database, reduced to the fields
// customs uses.
type Entry struct {
	Package      string
	Version      string
	Architecture string
	// Source is the raw Source field: "name" or "name (version)".
	Source string
	// Status is the raw Status field ("install ok installed"); status.d
	// files of distroless images have none.
	Status string
}

// SourcePackage returns the source package name and version: from the
// Source field when present (its version defaults to the binary version),
// else the binary package itself, as dpkg-query's ${source:Package} and
// ${source:Version} do.
func (e Entry) SourcePackage() (name, version string) {
	src := strings.TrimSpace(e.Source)
	if src == "" {
		return e.Package, e.Version
	}
	name, rest, ok := strings.Cut(src, " ")
	if !ok {
		return name, e.Version
	}
	rest = strings.TrimSpace(rest)
	if v, ok := strings.CutPrefix(rest, "("); ok {
		if v, ok := strings.CutSuffix(v, ")"); ok && strings.TrimSpace(v) != "" {
			return name, strings.TrimSpace(v)
		}
	}
	return name, e.Version
}

// State returns the package's state, the last word of Status
// ("installed", "half-installed", "config-files", ...); "installed" when
// there is no Status field, as in distroless status.d files.
func (e Entry) State() string {
	f := strings.Fields(e.Status)
	if len(f) == 0 {
		return "installed"
	}
	return f[len(f)-1]
}

// HasFiles reports whether the package's files are on disk: it is
// installed, or unpacked but not (fully) configured, or half-installed.
// Packages that were removed (config-files) or purged (not-installed)
// have no programs in the image and are left out of inventories.
func (e Entry) HasFiles() bool {
	switch e.State() {
	case "installed", "unpacked", "half-configured", "half-installed", "triggers-awaited", "triggers-pending":
		return true
	}
	return false
}

// Parse reads the deb822 paragraphs of a dpkg status file or of a status.d
// file. Paragraphs without Package or Version are skipped; continuation
// lines and fields customs does not use are ignored. It never keeps more
// than MaxPackages entries, and fails a paragraph whose kept field is longer
// than MaxValueBytes, so hostile files cost bounded memory.
func Parse(b []byte) ([]Entry, error) {
	var (
		out  []Entry
		cur  Entry
		errs []error
		bad  bool
		line int
	)
	flush := func() bool {
		if bad {
			errs = append(errs, fmt.Errorf("paragraph ending at line %d: field longer than %d bytes", line, MaxValueBytes))
		} else if cur.Package != "" && cur.Version != "" {
			if len(out) == MaxPackages {
				errs = append(errs, ErrTooMany)
				return false
			}
			out = append(out, cur)
		}
		cur, bad = Entry{}, false
		return true
	}
	for len(b) > 0 {
		var l []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			l, b = b, nil
		}
		line++
		if len(bytes.TrimRight(l, " \t\r")) == 0 {
			if !flush() {
				return out, errors.Join(errs...)
			}
			continue
		}
		if l[0] == ' ' || l[0] == '\t' || l[0] == '#' {
			continue // continuation of a field we do not keep, or a comment
		}
		name, value, ok := bytes.Cut(l, []byte{':'})
		if !ok {
			continue
		}
		var dst *string
		switch {
		case fieldIs(name, "Package"):
			dst = &cur.Package
		case fieldIs(name, "Version"):
			dst = &cur.Version
		case fieldIs(name, "Architecture"):
			dst = &cur.Architecture
		case fieldIs(name, "Source"):
			dst = &cur.Source
		case fieldIs(name, "Status"):
			dst = &cur.Status
		default:
			continue
		}
		value = bytes.TrimSpace(value)
		if len(value) > MaxValueBytes {
			bad = true
			continue
		}
		*dst = string(value)
	}
	flush()
	return out, errors.Join(errs...)
}

func fieldIs(name []byte, want string) bool {
	return bytes.EqualFold(bytes.TrimSpace(name), []byte(want))
}
