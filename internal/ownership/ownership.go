// Package ownership tells what the image author changed from what the OS
// packages installed. The package databases (dpkg's md5sums, rpm's file
// digests and modes, apk's checksums and ACLs) say which files each
// package installed and with which content; a finding in a file that is
// byte for byte what its package installed describes the distribution,
// not the image:
//
//   - a secret found by a generic (low-confidence) rule in such a file is
//     dropped and counted; any other secret there is kept and marked with
//     the owning package;
//   - a setuid or setgid program installed by its package, unchanged and
//     in the layer that installed the package, is counted, not reported;
//     one no package owns, whose content or mode differs from the
//     package's, or that a later layer wrote, is at least HIGH, and
//     CRITICAL when it is a packaged shell or tool under another name;
//   - a lockfile that an OS package ships describes the packager's build
//     tree, not what is installed: its entries are dropped; language
//     packages whose metadata OS packages installed, at every path where
//     they were found, are marked OSOwned.
//
// Files generated at install time (SSH host keys, for example) are in no
// package database, so they are never taken for package content.
package ownership

import (
	"fmt"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Owner is the OS package that installed a file of the final image.
type Owner struct {
	Package string
	// Digest and Mode are what the package database records (see
	// analyzer.OwnedFile).
	Digest string
	Mode   uint32
	// LayerDiffID is the layer whose package database lists the file.
	LayerDiffID string
}

// Files maps paths of the final image to their owners.
type Files map[string]Owner

// Image is what Apply needs of a merged scan.
type Image struct {
	Owned Files
	// Digest returns the digests of the file at path in the layer
	// diffID, when an analyzer recorded them.
	Digest func(diffID, path string) (analyzer.Digest, bool)
}

// Reasons counted in the report's dropped statistics.
const (
	DroppedGenericSecret = "generic-rule secrets in unmodified OS package files"
	DroppedSetid         = "setuid/setgid programs as their OS packages installed them"
	DroppedLockfile      = "entries of lockfiles shipped by OS packages"
)

// lockfiles are the files that record a build's dependency tree rather
// than what is installed.
var lockfiles = map[string]bool{
	"package-lock.json": true, "npm-shrinkwrap.json": true, "yarn.lock": true, "pnpm-lock.yaml": true,
	"poetry.lock": true, "Pipfile.lock": true, "pdm.lock": true, "uv.lock": true, "Gemfile.lock": true,
	"composer.lock": true, "Cargo.lock": true, "packages.lock.json": true, "gradle.lockfile": true,
}

// Apply judges findings and packages against the package databases and
// returns what remains, with the counts of what was dropped by reason.
func Apply(img Image, findings []model.Finding, pkgs []model.Package) ([]model.Finding, []model.Package, map[string]int) {
	dropped := map[string]int{}
	keptF := findings[:0:0]
	for _, f := range findings {
		switch {
		case f.Class == model.ClassSecret && f.Path != "":
			if o, ok := img.unchanged(f); ok {
				if f.Extra[model.ExtraConfidence] == model.ConfidenceLow {
					dropped[DroppedGenericSecret]++
					continue
				}
				f.Extra = with(f.Extra, model.ExtraOwner, o.Package)
			}
		case f.ID == check.SetuidFile || f.ID == check.SetgidFile:
			if keep, ok := img.setid(&f); !keep {
				dropped[DroppedSetid]++
				continue
			} else if !ok && f.Severity.Rank() < model.High.Rank() {
				f.Severity = model.High
			}
			img.renamedTool(&f)
		}
		keptF = append(keptF, f)
	}
	keptP := pkgs[:0:0]
	for _, p := range pkgs {
		if isOSPackage(p.Type) {
			keptP = append(keptP, p)
			continue
		}
		// The same package may be found at several paths (merged by
		// purl): each is judged. Entries of lockfiles OS packages ship
		// are left out; the package is os_owned only if OS packages
		// installed it at every remaining path, for a copy the image
		// author installed is the language ecosystem's to patch.
		var locs []string
		owner, allOwned := "", true
		for _, loc := range append([]string{p.Path}, p.Locations...) {
			o, ok := img.owner(loc)
			if ok && lockfiles[path.Base(loc)] {
				continue
			}
			locs = append(locs, loc)
			if !ok {
				allOwned = false
			} else if owner == "" {
				owner = o.Package
			}
		}
		if len(locs) == 0 {
			dropped[DroppedLockfile]++
			continue
		}
		p.Path, p.Locations = locs[0], nil
		if len(locs) > 1 {
			p.Locations = locs[1:]
		}
		if allOwned {
			p.OSOwned, p.OSPackage = true, owner
		}
		keptP = append(keptP, p)
	}
	for k, v := range dropped {
		if v == 0 {
			delete(dropped, k)
		}
	}
	return keptF, keptP, dropped
}

// unchanged returns the owner of the file a finding is in when the file,
// in the finding's layer, is byte for byte what the package installed.
func (img Image) unchanged(f model.Finding) (Owner, bool) {
	o, ok := img.owner(f.Path)
	if !ok || o.Digest == "" || img.Digest == nil {
		return Owner{}, false
	}
	d, ok := img.Digest(f.LayerDiffID, f.Path)
	if !ok || !d.Matches(o.Digest) {
		return Owner{}, false
	}
	return o, true
}

// setid decides a setuid or setgid finding: keep is false for a program
// its package installed as it is (same content, same mode where the
// database records modes, written by the layer that installed the
// package); owned reports whether a package owns it at all. A kept
// finding says why.
func (img Image) setid(f *model.Finding) (keep, owned bool) {
	o, owned := img.owner(f.Path)
	if !owned {
		f.Extra = with(f.Extra, "ownership", "no OS package installed this file")
		return true, false
	}
	_, same := img.unchanged(*f)
	switch {
	case !same:
		f.Extra = with(f.Extra, "ownership", fmt.Sprintf("content differs from what OS package %s installed", o.Package))
	case o.Mode != 0 && o.Mode&0o6000 == 0:
		f.Extra = with(f.Extra, "ownership", fmt.Sprintf("OS package %s installs it without the setuid/setgid bit", o.Package))
	case f.LayerDiffID != o.LayerDiffID:
		f.Extra = with(f.Extra, "ownership", fmt.Sprintf("a later layer rewrote this file of OS package %s", o.Package))
	default:
		return false, true
	}
	// Owned but changed: as serious as a program no package owns.
	return true, false
}

// renamedTool raises a setuid or setgid finding to CRITICAL when the file
// is, byte for byte, a shell, interpreter or general tool that an OS
// package installed under another path (busybox copied to /usr/local/bin/bb
// and made setuid root): its name no longer tells, its content does.
func (img Image) renamedTool(f *model.Finding) {
	if f.Severity == model.Critical || img.Digest == nil {
		return
	}
	d, ok := img.Digest(f.LayerDiffID, f.Path)
	if !ok {
		return
	}
	copyOf := ""
	for p, o := range img.Owned {
		if o.Digest != "" && check.Dangerous(path.Base(p)) && d.Matches(o.Digest) && (copyOf == "" || p < copyOf) {
			copyOf = p
		}
	}
	if copyOf == "" {
		return
	}
	f.Extra = with(f.Extra, "copy_of", copyOf)
	f.Extra = with(f.Extra, "reason", check.ReasonShell)
	uid, gid, _ := strings.Cut(f.Extra["owner"], ":")
	if (f.ID == check.SetuidFile && uid == "0") || (f.ID == check.SetgidFile && gid == "0") {
		f.Severity = model.Critical
	}
}

// owner returns the package that installed the file at p. On a merged-/usr
// system (Debian 12, Fedora, ...) packages still name many files by their
// historical paths (bin/su) while the image holds them under usr/
// (usr/bin/su), and the other way round: both spellings are tried.
func (img Image) owner(p string) (Owner, bool) {
	if o, ok := img.Owned[p]; ok {
		return o, true
	}
	alias := ""
	if rest, ok := strings.CutPrefix(p, "usr/"); ok {
		alias = rest
	} else {
		alias = "usr/" + p
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(alias, "usr/"), "/")
	switch top {
	case "bin", "sbin", "lib", "lib32", "lib64", "libx32":
		o, ok := img.Owned[alias]
		return o, ok
	}
	return Owner{}, false
}

func isOSPackage(typ string) bool {
	return typ == model.TypeDeb || typ == model.TypeRPM || typ == model.TypeAPK
}

func with(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
