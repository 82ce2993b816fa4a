// Package secret finds credentials baked into image files: secrets in text
// (gitleaks' maintained rules plus customs' own), unencrypted private keys,
// and files that hold credentials by their nature (cloud and registry
// credentials, token-bearing tool configurations, kubeconfigs, .env files,
// command histories, keystores). Matches are redacted unless asked
// otherwise.
package secret

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// MaxFileBytes is the largest file scanned for secrets; larger files are
// data, not configuration.
const MaxFileBytes = 8 << 20

// Options configure the analyzer.
type Options struct {
	// ShowSecrets puts secrets in findings unredacted.
	ShowSecrets bool
	// ConfigPath names a gitleaks-format TOML file with more rules and
	// allowlists.
	ConfigPath string
}

// Analyzer is the file secret analyzer.
type Analyzer struct {
	opt    Options
	det    func() *Detector
	cfgKey string
}

// New returns an analyzer with opt. A rules file given in opt is read and
// checked now; the built-in rules are compiled when first needed, so a
// scan served from caches never pays for them.
func New(opt Options) (*Analyzer, error) {
	det, err := Rules(opt.ConfigPath)
	if err != nil {
		return nil, err
	}
	key := "show=" + strconv.FormatBool(opt.ShowSecrets)
	if opt.ConfigPath != "" {
		b, err := readBounded(opt.ConfigPath, maxConfigBytes)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(b)
		key += ",config=" + hex.EncodeToString(h[:])
	}
	return &Analyzer{opt: opt, det: det, cfgKey: key}, nil
}

// Detector returns the rules the analyzer uses, for image-level checks.
func (a *Analyzer) Detector() *Detector { return a.det() }

// Rules returns the detector for a rules file (or the built-in rules for
// ""), loaded on the first call of the returned function. A rules file is
// loaded at once, so that a bad one is reported before any scan starts.
func Rules(path string) (func() *Detector, error) {
	if path != "" {
		det, err := LoadDetector(path)
		if err != nil {
			return nil, err
		}
		return func() *Detector { return det }, nil
	}
	return sync.OnceValue(func() *Detector {
		det, err := LoadDetector("")
		if err != nil {
			panic("built-in secret rules: " + err.Error()) // a build defect, caught by every test
		}
		return det
	}), nil
}

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return "secret" }

// Version implements analyzer.Analyzer.
func (a *Analyzer) Version() int { return 2 }

// ConfigKey implements analyzer.Configured.
func (a *Analyzer) ConfigKey() string { return a.cfgKey }

// Need implements analyzer.Analyzer.
func (a *Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !e.IsRegular() || e.Size == 0 {
		return analyzer.Skip
	}
	if skipPath(e.Path) || a.det().PathAllowed(e.Path) {
		return analyzer.Skip
	}
	if headerOnly(e.Path) {
		return analyzer.Header
	}
	if e.Size > MaxFileBytes {
		return analyzer.Skip
	}
	return analyzer.Content
}

// Analyze implements analyzer.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	before := len(r.Findings)
	err := a.analyze(ctx, f, r)
	if len(r.Findings) > before && f.Content != nil && !f.Truncated {
		// The engine compares it with the package databases: a finding of
		// a generic rule in a file an OS package installed unchanged is
		// the distribution's, not the image author's.
		r.RecordDigest(f.Path, f.Content)
	}
	return err
}

func (a *Analyzer) analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	// Lines whose credential a file check already reported.
	covered := map[int]bool{}
	for _, h := range sensitiveFile(f.Path, f.Size, f.Content) {
		r.Findings = append(r.Findings, a.finding(f.Path, h.ID, h.Title, h.Severity, h.Line, h.Secret))
		if h.Secret != "" {
			covered[h.Line] = true
		}
	}
	if f.Content == nil || isBinary(f.Content) {
		return nil
	}
	for _, k := range privateKeys(f.Content) {
		r.Findings = append(r.Findings, a.finding(f.Path, "private-key", "Unencrypted private key ("+k.Kind+")", model.High, k.Line, k.Body))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, h := range a.det().ScanBytes(f.Path, f.Content) {
		if covered[h.Line] {
			continue
		}
		r.Findings = append(r.Findings, a.finding(f.Path, h.RuleID, h.Title, h.Severity, h.Line, h.Secret))
	}
	return nil
}

func (a *Analyzer) finding(path, id, title string, sev model.Severity, line int, secret string) model.Finding {
	f := model.Finding{
		Class:       model.ClassSecret,
		ID:          id,
		Title:       title,
		Severity:    sev,
		Description: fmt.Sprintf("Anyone who can pull the image can read %s, in this layer even if a later layer deletes it. Remove it from the image history (rebuild without it; use build secrets or run-time configuration) and revoke the credential.", path),
		Path:        path,
		Line:        line,
	}
	if secret != "" {
		f.Match = show(secret, a.opt.ShowSecrets)
	}
	if lowConfidence(id) {
		f.Extra = map[string]string{model.ExtraConfidence: model.ConfidenceLow}
	}
	return f
}

// lowConfidence reports whether a rule matches by shape and entropy alone
// (gitleaks' generic rules), not by a credential's own format: such rules
// fire on documentation, type definitions and test data too.
func lowConfidence(id string) bool {
	return strings.HasPrefix(id, "generic")
}
