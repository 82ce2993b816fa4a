// Package imagecheck is the image-level analyzer that applies the
// configuration checks of package check to a merged image: its
// configuration (USER, EXPOSE, VOLUME, HEALTHCHECK), build history, tag,
// operating system and packages, and the small files the fsmeta layer
// analyzer keeps (accounts, inetd/xinetd files).
package imagecheck

import (
	"context"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
)

// Options configure the image-level checks. The zero value runs every
// check with its defaults.
type Options struct {
	// Skip holds check ids not to report.
	Skip map[string]bool
	// MaxImageAgeDays is the age in days beyond which image-age fires;
	// zero means check.DefaultMaxImageAgeDays, negative disables the check.
	MaxImageAgeDays int
	// Now returns the current time; nil means time.Now. Tests fix it.
	Now func() time.Time
}

// Analyzer applies the configuration checks to a merged image.
type Analyzer struct {
	opt Options
}

var _ analyzer.ImageAnalyzer = (*Analyzer)(nil)

// New returns the image-level configuration analyzer.
func New(opt Options) *Analyzer {
	if opt.MaxImageAgeDays == 0 {
		opt.MaxImageAgeDays = check.DefaultMaxImageAgeDays
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Analyzer{opt: opt}
}

// Name implements analyzer.ImageAnalyzer.
func (*Analyzer) Name() string { return "config-checks" }

// AnalyzeImage implements analyzer.ImageAnalyzer.
func (a *Analyzer) AnalyzeImage(ctx context.Context, img *analyzer.Image) ([]model.Finding, error) {
	var out []model.Finding
	for _, run := range []func(*analyzer.Image) []model.Finding{
		userChecks, accountChecks, packageChecks, inetdChecks, portChecks,
		volumeChecks, healthcheckCheck, historyChecks, a.tagChecks, a.eolCheck, a.ageCheck,
	} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, f := range run(img) {
			if !a.opt.Skip[f.ID] {
				out = append(out, f)
			}
		}
	}
	return out, nil
}
