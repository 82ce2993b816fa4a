// Package imagecheck is the image-level analyzer that applies the
// configuration checks of package check to a merged image: its
// configuration (USER, EXPOSE, VOLUME, HEALTHCHECK), build history, tag,
// operating system and packages, and the small files the fsmeta layer
// analyzer keeps (accounts, inetd/xinetd, sshd configuration, root's
// authorized keys, the password states of /etc/shadow).
//
// sshd (only when etc/ssh/sshd_config is in the image): the configuration
// is read as sshd reads it (see ParseSSHD): the first value obtained for a
// keyword wins and Include is expanded in place, resolved among the files
// fsmeta keeps (etc/ssh/sshd_config and etc/ssh/sshd_config.d/*; an Include
// of another file is not followed), with sshd's own depth limit and bounds
// on files and lines. Absent keywords take OpenSSH's defaults
// (PermitRootLogin prohibit-password, PasswordAuthentication yes,
// PermitEmptyPasswords no, KbdInteractiveAuthentication yes, UsePAM no).
//   - sshd-permit-root-login: HIGH for yes; MEDIUM for prohibit-password or
//     without-password when a file of AuthorizedKeysFile for root holds a
//     key (root/.ssh/authorized_keys by default); forced-commands-only is
//     not reported.
//   - sshd-password-authentication: passwords are accepted when
//     PasswordAuthentication is yes, or KbdInteractiveAuthentication is yes
//     with UsePAM yes (PAM asks for the password). HIGH when an account sshd
//     would admit has a usable password (root only under PermitRootLogin
//     yes; AllowUsers, DenyUsers and login shells are not considered);
//     LOW when PasswordAuthentication yes is written but no such account has
//     one (a later layer or a runtime passwd would make it HIGH); nothing
//     when only the default applies and no account has one.
//   - sshd-permit-empty-passwords: HIGH for yes; CRITICAL when passwords are
//     accepted and an account sshd would admit has an empty password.
//
// Password states come from etc/passwd and the redacted etc/shadow fsmeta
// keeps. Lines in Match blocks apply only to some connections: they never
// decide the global verdict; each Match block is judged on its own (its
// values over the global ones) and reported separately, with the block's
// criteria in the finding's "match" detail, only when it makes a verdict
// worse than the global one. Findings carry the Path and Line of the
// deciding setting (Line 0 on sshd_config when a default decides).
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
		volumeChecks, healthcheckCheck, historyChecks, sshdChecks, a.tagChecks, a.eolCheck, a.ageCheck,
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
