// Package shadow checks /etc/shadow for accounts that need no password,
// accounts that can log in with a password at all, and passwords that are
// on a built-in list of common and vendor-default passwords.
package shadow

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// Defaults for Options.
const (
	DefaultBudget  = 30 * time.Second
	DefaultPerHash = 15 * time.Second
)

// Options configure the analyzer. The zero value of a field means its default.
type Options struct {
	// ShowSecrets puts cracked passwords in findings.
	ShowSecrets bool
	// Budget bounds the time spent guessing for one scan; PerHash for one hash.
	Budget  time.Duration
	PerHash time.Duration
	// Workers is how many hashes are computed at once (default: CPUs).
	Workers int
}

// Analyzer is the shadow analyzer; one serves one scan.
type Analyzer struct {
	opt    Options
	budget *Budget
}

// New returns an analyzer with opt.
func New(opt Options) *Analyzer {
	if opt.Budget <= 0 {
		opt.Budget = DefaultBudget
	}
	if opt.PerHash <= 0 {
		opt.PerHash = DefaultPerHash
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	return &Analyzer{opt: opt, budget: NewBudget(opt.Budget)}
}

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return "shadow" }

// Version implements analyzer.Analyzer.
func (a *Analyzer) Version() int { return 1 }

// ConfigKey implements analyzer.Configured.
func (a *Analyzer) ConfigKey() string { return "show=" + strconv.FormatBool(a.opt.ShowSecrets) }

// Need implements analyzer.Analyzer.
func (a *Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if e.Path == "etc/shadow" && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if f.Truncated {
		r.Warn(f.Path, "shadow file larger than the read limit; only its beginning was checked")
	}
	for _, acc := range Parse(f.Content) {
		switch acc.State() {
		case Empty:
			r.Findings = append(r.Findings, a.finding(f.Path, acc, "shadow-empty-password", model.Critical,
				fmt.Sprintf("account %q has an empty password: anyone can log in as it without a password", acc.Name), ""))
		case Usable:
			r.Findings = append(r.Findings, a.check(ctx, f.Path, acc, r)...)
		}
	}
	return nil
}

// check reports an account with a usable password and guesses it.
func (a *Analyzer) check(ctx context.Context, path string, acc Account, r *analyzer.Result) []model.Finding {
	scheme := acc.Scheme()
	usable := a.finding(path, acc, "shadow-usable-password", model.Medium,
		fmt.Sprintf("account %q can log in with a password (fixed password baked into the image)", acc.Name), "")
	usable.Extra = map[string]string{"hash_scheme": schemeName(scheme)}
	out := []model.Finding{usable}
	if !crackable(scheme) {
		return out
	}
	if !cryptAvailable {
		r.Warn(path, "password guessing skipped: this build has no crypt(3) (built without cgo)")
		return out
	}
	slice := a.budget.take(a.opt.PerHash)
	if slice <= 0 {
		r.Warn(path, fmt.Sprintf("password guessing for %q skipped: time budget for the image used up", acc.Name))
		return out
	}
	start := time.Now()
	res := crack(ctx, acc.Hash, Candidates(), a.opt.Workers, slice)
	a.budget.giveBack(slice - time.Since(start))
	if res.Password != "" {
		sev := model.High
		if acc.Name == "root" {
			sev = model.Critical
		}
		f := a.finding(path, acc, "shadow-weak-password", sev,
			fmt.Sprintf("account %q has a common or default password", acc.Name), res.Password)
		f.Extra = map[string]string{"hash_scheme": scheme}
		out = append(out, f)
	} else if !res.Exhausted {
		r.Warn(path, fmt.Sprintf("password guessing for %q stopped after %d of %d guesses (%s, time bound)", acc.Name, res.Tried, len(Candidates()), scheme))
	}
	return out
}

func (a *Analyzer) finding(path string, acc Account, id string, sev model.Severity, title, password string) model.Finding {
	match := acc.Name + ":"
	if password != "" {
		if a.opt.ShowSecrets {
			match += password
		} else {
			match += "********"
		}
	}
	return model.Finding{
		Class:       model.ClassSecret,
		ID:          id,
		Title:       title,
		Severity:    sev,
		Description: "Every container started from the image has this account. Lock it (`passwd -l` or `usermod -L`) or remove the password in the image, and set credentials at run time instead.",
		Path:        path,
		Line:        acc.Line,
		Match:       match,
	}
}

func crackable(scheme string) bool {
	switch scheme {
	case "yescrypt", "sha512crypt", "sha256crypt", "md5crypt", "bcrypt":
		return true
	}
	return false
}

func schemeName(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
