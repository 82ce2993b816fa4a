package imagecheck

import (
	"fmt"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Source kinds whose images are referred to by name and tag (see package
// source); archives, layouts and root filesystems are files the user holds.
var namedSources = map[string]bool{"registry": true, "docker": true, "containerd": true, "podman": true}

// Tag splits an image reference into its tag and whether it is pinned by
// digest. A reference without a tag has the implied tag latest; an image
// ID (sha256:..., or bare hex) counts as pinned.
func Tag(ref string) (tag string, pinned bool) {
	if strings.Contains(ref, "@") || strings.HasPrefix(ref, "sha256:") || isImageID(ref) {
		return "", true
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:], false
	}
	return "latest", false
}

func isImageID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// tagChecks reports an image scanned by a mutable tag.
func (a *Analyzer) tagChecks(img *analyzer.Image) []model.Finding {
	if !namedSources[img.Source] {
		return nil
	}
	ref := img.Input
	if ref == "" {
		ref = img.Name
	}
	tag, pinned := Tag(ref)
	if pinned || ref == "" {
		return nil
	}
	id := check.TagUnpinned
	if tag == "latest" {
		id = check.TagLatest
	}
	f := check.Finding(id)
	f.Location = "input"
	return []model.Finding{check.With(f, "reference", quote(ref))}
}

// ageCheck reports an image created longer ago than allowed.
func (a *Analyzer) ageCheck(img *analyzer.Image) []model.Finding {
	if img.Config == nil || a.opt.MaxImageAgeDays < 0 || img.Config.Created.IsZero() {
		return nil
	}
	created := img.Config.Created.Time
	days := int(a.opt.Now().Sub(created).Hours() / 24)
	if days <= a.opt.MaxImageAgeDays {
		return nil
	}
	f := check.Finding(check.ImageAge)
	f.Location = "config.Created"
	f.Title = fmt.Sprintf("Image created %d days ago (limit %d)", days, a.opt.MaxImageAgeDays)
	return []model.Finding{check.With(f, "created", created.UTC().Format("2006-01-02"))}
}
