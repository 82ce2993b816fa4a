// Package shadow checks /etc/shadow for accounts that need no password,
// accounts that can log in with a password at all, and passwords that are
// on a built-in list of common and vendor-default passwords.
package shadow

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// Password guessing modes (Options.Guessing).
const (
	// GuessOff reports empty and usable passwords without guessing any.
	GuessOff = "off"
	// GuessQuick tries a short list (an empty password behind a hash, the
	// account name and simple variants, the most common and vendor-default
	// passwords: about 40 guesses, 8 against the expensive yescrypt and
	// bcrypt hashes) for at most QuickCPU of CPU per shadow file.
	GuessQuick = "quick"
	// GuessDeep tries the long built-in list (Candidates) after the quick
	// one, for up to DefaultBudget.
	GuessDeep = "deep"
)

// Defaults for Options.
const (
	// QuickCPU is the CPU time quick guessing may spend on one shadow
	// file, all workers together; QuickWall bounds its wall time on a
	// machine too busy to give it that CPU soon.
	QuickCPU  = time.Second
	QuickWall = 5 * time.Second
	// DefaultBudget and DefaultPerHash are deep guessing's time bounds.
	DefaultBudget  = 30 * time.Second
	DefaultPerHash = 15 * time.Second
)

// Options configure the analyzer. The zero value of a field means its default.
type Options struct {
	// ShowSecrets puts cracked passwords in findings.
	ShowSecrets bool
	// Guessing is GuessOff, GuessQuick (the default, also "") or GuessDeep.
	Guessing string
	// Budget bounds the wall time spent guessing for one shadow file (one
	// layer's /etc/shadow); PerHash for one hash. Defaults: QuickWall for
	// both in quick mode, DefaultBudget and DefaultPerHash in deep mode.
	Budget  time.Duration
	PerHash time.Duration
	// CPU bounds the CPU time spent guessing for one shadow file, summed
	// over the workers. Default: QuickCPU in quick mode, no bound in deep
	// mode (negative: no bound).
	CPU time.Duration
	// Workers is how many hashes are computed at once (default: CPUs).
	Workers int
	// MemoDir is a directory where the outcome of guessing each hash is
	// remembered across runs (e.g. <cache dir>/passwords); "" remembers
	// within the process only.
	MemoDir string
}

// Validate checks the guessing mode.
func (o Options) Validate() error {
	switch o.Guessing {
	case "", GuessOff, GuessQuick, GuessDeep:
		return nil
	}
	return fmt.Errorf("password guessing %q: want off, quick or deep", o.Guessing)
}

// Analyzer is the shadow analyzer. It is safe for concurrent use and may
// serve several scans: its time bounds apply to each shadow file.
type Analyzer struct {
	opt Options
}

// New returns an analyzer with opt; an invalid Guessing (see Validate)
// means quick.
func New(opt Options) *Analyzer {
	if opt.Validate() != nil || opt.Guessing == "" {
		opt.Guessing = GuessQuick
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	budget, perHash, cpu := DefaultBudget, DefaultPerHash, time.Duration(-1)
	if opt.Guessing == GuessQuick {
		budget, perHash, cpu = QuickWall, QuickWall, QuickCPU
	}
	if opt.CPU == 0 {
		opt.CPU = cpu
	}
	if opt.Budget <= 0 {
		opt.Budget = budget
	}
	if opt.PerHash <= 0 {
		opt.PerHash = perHash
	}
	return &Analyzer{opt: opt}
}

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return "shadow" }

// Version implements analyzer.Analyzer.
func (a *Analyzer) Version() int { return 2 }

// ConfigKey implements analyzer.Configured: what is shown, which list is
// tried and which crypt implementation this build has (a build without cgo
// guesses fewer schemes, so it must not share cached results with one that
// has libxcrypt).
func (a *Analyzer) ConfigKey() string {
	return "show=" + strconv.FormatBool(a.opt.ShowSecrets) + ",guess=" + a.opt.Guessing + ",crypt=" + cryptEngine
}

// Need implements analyzer.Analyzer.
func (a *Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if e.Path == "etc/shadow" && e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}

// Analyze implements analyzer.Analyzer. The accounts are judged in the
// background (analyzer.Result.Go): guessing takes up to Options.Budget per
// file, and the walk of the layer goes on meanwhile, as do the walks of the
// other layers.
func (a *Analyzer) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if f.Truncated {
		r.Warn(f.Path, "shadow file larger than the read limit; only its beginning was checked")
	}
	accounts := Parse(f.Content) // f.Content is not valid after Analyze
	path := f.Path
	r.Go(path, a.Name(), func() func(*analyzer.Result) {
		var out analyzer.Result
		a.judge(ctx, path, accounts, &out)
		return func(r *analyzer.Result) {
			r.Findings = append(r.Findings, out.Findings...)
			r.Warnings = append(r.Warnings, out.Warnings...)
			r.Incomplete = r.Incomplete || out.Incomplete
		}
	})
	return nil
}

// judge reports the accounts of one shadow file that need no password or
// can log in with one, and guesses the passwords within the file's budget.
func (a *Analyzer) judge(ctx context.Context, path string, accounts []Account, r *analyzer.Result) {
	b := &budgets{wall: NewBudget(a.opt.Budget)}
	if a.opt.CPU > 0 {
		b.cpu = NewCPU(a.opt.CPU)
	}
	for _, acc := range accounts {
		switch acc.State() {
		case Empty:
			r.Findings = append(r.Findings, a.finding(path, acc, "shadow-empty-password", model.Critical,
				fmt.Sprintf("account %q has an empty password: anyone can log in as it without a password", acc.Name)))
		case Usable:
			r.Findings = append(r.Findings, a.check(ctx, path, acc, b, r)...)
		}
	}
}

// check reports an account with a usable password and guesses it.
func (a *Analyzer) check(ctx context.Context, path string, acc Account, budget *budgets, r *analyzer.Result) []model.Finding {
	scheme := acc.Scheme()
	usable := a.finding(path, acc, "shadow-usable-password", model.Medium,
		fmt.Sprintf("account %q can log in with a password (fixed password baked into the image)", acc.Name))
	usable.Extra = map[string]string{"hash_scheme": schemeName(scheme)}
	if a.opt.Guessing == GuessOff || !crackable(scheme) {
		return []model.Finding{usable}
	}
	if !supported(scheme) {
		r.Warn(path, fmt.Sprintf("password guessing for %q skipped: %s hashes need libxcrypt, and this customs was built without cgo", acc.Name, scheme))
		return []model.Finding{usable}
	}
	if why := tooCostly(scheme, acc.Hash); why != "" {
		r.Warn(path, fmt.Sprintf("password guessing for %q skipped: %s", acc.Name, why))
		return []model.Finding{usable}
	}
	guesses := guessesFor(a.opt.Guessing, acc.Name, scheme)
	key := memoKey(acc.Hash, listID(a.opt.Guessing, guesses))
	e, ok := memoGet(a.opt.MemoDir, key, len(guesses))
	if !ok {
		e = memoEntry{Match: -1}
	}
	if !e.Complete {
		e = a.guess(ctx, path, acc, scheme, guesses, e, key, budget, r)
	}
	tried := e.Next
	if e.Match >= 0 {
		tried = e.Match + 1
	}
	usable.Extra["guess_list"] = a.opt.Guessing
	usable.Extra["guesses_tried"] = strconv.Itoa(tried)
	out := []model.Finding{usable}
	if e.Match < 0 {
		return out
	}
	password := guesses[e.Match]
	sev := model.High
	if acc.Name == "root" {
		sev = model.Critical
	}
	title := fmt.Sprintf("account %q has a common or default password", acc.Name)
	if strings.TrimSpace(password) == "" {
		title = fmt.Sprintf("account %q has an empty password behind its hash: anyone can log in as it without a password", acc.Name)
	}
	weak := a.finding(path, acc, "shadow-weak-password", sev, title)
	weak.Match = acc.Name + ":" + a.redact(password)
	weak.Extra = map[string]string{"hash_scheme": scheme, "guess_list": a.opt.Guessing, "guesses_tried": strconv.Itoa(tried)}
	return append(out, weak)
}

// guess continues guessing acc's hash from e, within the budget, and
// remembers how far it got. A judgement cut short by time marks the
// layer's result incomplete, so it is not cached.
func (a *Analyzer) guess(ctx context.Context, path string, acc Account, scheme string, guesses []string, e memoEntry, key string, budget *budgets, r *analyzer.Result) memoEntry {
	slice := budget.wall.take(a.opt.PerHash)
	if slice <= 0 || budget.cpu.spent() {
		budget.wall.giveBack(slice)
		r.Warn(path, fmt.Sprintf("password guessing for %q skipped after %d of %d guesses (%s list): time budget for the shadow file used up", acc.Name, e.Next, len(guesses), a.opt.Guessing))
		r.Incomplete = true
		return e
	}
	start := time.Now()
	res := crack(ctx, acc.Hash, guesses, e.Next, a.opt.Workers, slice, budget.cpu)
	budget.wall.giveBack(slice - time.Since(start))
	e = memoEntry{Next: res.Next, Match: -1, Complete: res.Complete, Unsupported: res.Err != nil}
	if res.Found {
		e.Match = res.Index
	}
	memoPut(a.opt.MemoDir, key, e)
	switch {
	case res.Err != nil:
		r.Warn(path, fmt.Sprintf("password guessing for %q stopped: %v", acc.Name, res.Err))
	case !res.Complete:
		r.Warn(path, fmt.Sprintf("password guessing for %q stopped after %d of %d guesses (%s, %s list, time bound)", acc.Name, e.Next, len(guesses), scheme, a.opt.Guessing))
		r.Incomplete = true
	}
	return e
}

// budgets are the time bounds of one shadow file.
type budgets struct {
	wall *Budget
	cpu  *CPU // nil: no bound
}

func (a *Analyzer) redact(password string) string {
	if a.opt.ShowSecrets {
		return password
	}
	return "********"
}

func (a *Analyzer) finding(path string, acc Account, id string, sev model.Severity, title string) model.Finding {
	match := acc.Name + ":"
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
