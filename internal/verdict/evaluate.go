package verdict

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
)

// MaxFindings is how many findings a verdict names at most.
const MaxFindings = 5

// Image is an image reference split into the parts rules match.
type Image struct {
	// Registry is the registry host (docker.io for Docker Hub).
	Registry string
	// Repository is the repository path (library/nginx for nginx).
	Repository string
	Tag        string
	Digest     string
}

// ParseImage splits a registry reference; a bare name is on Docker Hub.
func ParseImage(ref string) (Image, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return Image{}, err
	}
	img := Image{Registry: r.Context().RegistryStr(), Repository: r.Context().RepositoryStr()}
	if img.Registry == name.DefaultRegistry {
		img.Registry = "docker.io"
	}
	switch r := r.(type) {
	case name.Tag:
		img.Tag = r.TagStr()
	case name.Digest:
		img.Digest = r.DigestStr()
		// A reference may carry both: name:tag@sha256:...
		if before, _, ok := strings.Cut(ref, "@"); ok {
			if t, err := name.NewTag(before, name.WeakValidation); err == nil && strings.Contains(before[strings.LastIndex(before, "/")+1:], ":") {
				img.Tag = t.TagStr()
			}
		}
	}
	return img, nil
}

// String writes the image as registry/repository[:tag][@digest].
func (i Image) String() string {
	s := i.Repository
	if i.Registry != "" {
		s = i.Registry + "/" + s
	}
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// Input is what a policy decides on.
type Input struct {
	Image Image
	// Namespace is the Kubernetes namespace the image is to run in, Host
	// the machine (Docker host); empty when not known.
	Namespace string
	Host      string
	// Report is the image's report; nil when it has not been scanned.
	Report *report.Report
	// ScannedAt is when Report was made (default: its CreatedAt).
	ScannedAt time.Time
	// Now is the time of the decision (default time.Now).
	Now time.Time
}

// matches reports whether m selects in.
func (m Match) matches(in Input) bool {
	reg := strings.ToLower(in.Image.Registry)
	repos := []string{in.Image.Repository}
	if reg == "docker.io" || reg == name.DefaultRegistry {
		repos = append(repos, strings.TrimPrefix(in.Image.Repository, "library/"))
	}
	registries := []string{reg}
	if reg == "docker.io" {
		registries = append(registries, name.DefaultRegistry)
	}
	return anyMatch(m.Registries, registries...) && anyMatch(m.Repositories, repos...) &&
		anyMatch(m.Tags, in.Image.Tag) && anyMatch(m.Namespaces, in.Namespace) && anyMatch(m.Hosts, in.Host)
}

// Evaluate decides about one image: the first rule that matches it and
// whose conditions hold decides; else an image without a report gets
// the unscanned action, any other the default action.
func (p *Policy) Evaluate(in Input) Verdict {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.Report != nil && in.ScannedAt.IsZero() {
		in.ScannedAt = in.Report.CreatedAt
	}
	var lifted []string
	for _, r := range p.Rules {
		if !r.Match.matches(in) {
			continue
		}
		excused, whole := p.exceptions(r, in)
		if whole != nil {
			lifted = appendOnce(lifted, whole.describe())
			continue
		}
		var findings []model.Finding
		if in.Report != nil {
			for _, f := range in.Report.Findings {
				if e := excusing(excused, f); e != nil {
					lifted = appendOnce(lifted, e.describe())
					continue
				}
				findings = append(findings, f)
			}
		}
		reason, worst, ok := r.When.hold(in, findings)
		if !ok {
			continue
		}
		if r.Message != "" {
			reason = r.Message
		}
		return Verdict{Action: r.Action, Rule: r.Name, Reason: reason, Policy: p.ID(), Findings: short(worst), Exceptions: lifted}
	}
	if in.Report == nil {
		return Verdict{Action: p.Unscanned.Action, Rule: RuleUnscanned, Policy: p.ID(), Exceptions: lifted,
			Reason: "the image has not been scanned"}
	}
	return Verdict{Action: p.Default, Rule: RuleDefault, Policy: p.ID(), Exceptions: lifted,
		Reason: "no rule applies"}
}

// exceptions returns the unexpired exceptions from rule r for in that
// lift findings, and the first that lifts the whole image, if any.
func (p *Policy) exceptions(r Rule, in Input) (excused []*Exception, whole *Exception) {
	for i := range p.Exceptions {
		e := &p.Exceptions[i]
		if (e.Rule != "" && e.Rule != r.Name) || !in.Now.Before(e.Expires) || !e.Match.matches(in) {
			continue
		}
		if len(e.IDs) == 0 {
			return nil, e
		}
		excused = append(excused, e)
	}
	return excused, nil
}

// excusing returns the exception among es that names f, if any.
func excusing(es []*Exception, f model.Finding) *Exception {
	for _, e := range es {
		if anyMatch(e.IDs, append([]string{f.ID}, f.Aliases...)...) {
			return e
		}
	}
	return nil
}

// describe says what e lifts, why and until when.
func (e *Exception) describe() string {
	rule := e.Rule
	if rule == "" {
		rule = "every rule"
	}
	return fmt.Sprintf("%s: %s (until %s)", rule, e.Reason, e.Expires.AddDate(0, 0, -1).Format(time.DateOnly))
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// hold reports whether the conditions hold for in with findings (those
// no exception lifted): why, and the findings that made them hold.
func (c Conditions) hold(in Input, findings []model.Finding) (string, []model.Finding, bool) {
	var why []string
	var worst []model.Finding
	if c.Image != nil {
		w, fs, ok := c.Image.hold(in, findings)
		if !ok {
			return "", nil, false
		}
		why, worst = append(why, w...), append(worst, fs...)
	}
	if c.Findings != nil {
		if in.Report == nil {
			return "", nil, false
		}
		w, fs, ok := c.Findings.hold(in.Now, findings)
		if !ok {
			return "", nil, false
		}
		why, worst = append(why, w), append(worst, fs...)
	}
	if len(why) == 0 {
		why = append(why, "the rule applies to every image it matches")
	}
	return strings.Join(why, "; "), worst, true
}

// Finding ids the image conditions read.
const (
	idUnsigned     = "integrity-unsigned"
	idUnverifiable = "integrity-signature-unverifiable"
	idBadSignature = "integrity-signature-invalid"
	idTagDrift     = "integrity-tag-drift"
	idLookAlike    = "integrity-lookalike-name"
	idPlainHTTP    = "integrity-plain-http-pull"
)

// Finding.Extra keys the finding conditions read.
const (
	scoreKey     = "cvss_score"
	publishedKey = "published"
)

// fact is one boolean image condition: its wanted value, the findings
// that make it true, and how to say it.
type fact struct {
	want   *bool
	is     func(model.Finding) bool
	saying string
}

func (c *ImageConditions) hold(in Input, findings []model.Finding) ([]string, []model.Finding, bool) {
	var why []string
	var worst []model.Finding
	if c.Unscanned != nil {
		if *c.Unscanned != (in.Report == nil) {
			return nil, nil, false
		}
		why = append(why, say(*c.Unscanned, "the image has not been scanned"))
	}
	scanned := in.Report != nil
	if c.ScanOlderThan > 0 {
		age := in.Now.Sub(in.ScannedAt)
		if !scanned || age <= c.ScanOlderThan {
			return nil, nil, false
		}
		why = append(why, fmt.Sprintf("the last scan is older than %s (%s ago)", formatDuration(c.ScanOlderThan), formatDuration(age)))
	}
	facts := []fact{
		{c.RunsAsRoot, func(f model.Finding) bool { return f.ID == check.UserRoot }, "the image runs as root"},
		{c.Unsigned, func(f model.Finding) bool { return f.ID == idUnsigned || f.ID == idUnverifiable }, "the image has no verifiable signature"},
		{c.BadSignature, func(f model.Finding) bool { return f.ID == idBadSignature }, "no signature of the image verifies with the key or identity"},
		{c.TagMoved, func(f model.Finding) bool { return f.ID == idTagDrift }, "the tag moved to another digest"},
		{c.LookAlike, func(f model.Finding) bool { return f.ID == idLookAlike }, "the image name looks like a well-known one"},
		{c.PlainHTTP, func(f model.Finding) bool { return f.ID == idPlainHTTP }, "the image was pulled over plain HTTP"},
		{c.RegistryAuditFailed, func(f model.Finding) bool { return f.Class == model.ClassRegistry }, "the registry's audit found problems"},
	}
	for _, ft := range facts {
		if ft.want == nil {
			continue
		}
		if !scanned {
			return nil, nil, false
		}
		var hits []model.Finding
		for _, f := range findings {
			if ft.is(f) {
				hits = append(hits, f)
			}
		}
		if (len(hits) > 0) != *ft.want {
			return nil, nil, false
		}
		why = append(why, say(*ft.want, ft.saying))
		worst = append(worst, hits...)
	}
	return why, worst, true
}

func say(want bool, s string) string {
	if want {
		return s
	}
	return "not: " + s
}

// hold counts the findings that satisfy c.
func (c *FindingConditions) hold(now time.Time, findings []model.Finding) (string, []model.Finding, bool) {
	var hits []model.Finding
	for _, f := range findings {
		if c.matches(now, f) {
			hits = append(hits, f)
		}
	}
	if len(hits) < max(c.Count, 1) {
		return "", nil, false
	}
	return fmt.Sprintf("%d %s", len(hits), c.describe(len(hits))), hits, true
}

func (c *FindingConditions) matches(now time.Time, f model.Finding) bool {
	if len(c.Classes) > 0 && !slices.Contains(c.Classes, f.Class) {
		return false
	}
	if c.Severity != "" && severityOf(f).Rank() < c.Severity.Rank() {
		return false
	}
	if c.Fixable != nil && (f.FixedVersion != "") != *c.Fixable {
		return false
	}
	if c.CVSS > 0 {
		score, err := strconv.ParseFloat(f.Extra[scoreKey], 64)
		if err != nil || score < c.CVSS {
			return false
		}
	}
	if len(c.IDs) > 0 && !anyMatch(c.IDs, append([]string{f.ID}, f.Aliases...)...) {
		return false
	}
	if c.OlderThan > 0 {
		published, err := time.Parse(time.RFC3339, f.Extra[publishedKey])
		if err != nil || now.Sub(published) <= c.OlderThan {
			return false
		}
	}
	return true
}

// describe says what c counts, e.g. "fixable vulnerability findings of
// severity HIGH or above".
func (c *FindingConditions) describe(n int) string {
	var parts []string
	if c.Fixable != nil {
		parts = append(parts, map[bool]string{true: "fixable", false: "unfixed"}[*c.Fixable])
	}
	var cls []string
	for _, cl := range c.Classes {
		cls = append(cls, string(cl))
	}
	if len(cls) > 0 {
		parts = append(parts, strings.Join(cls, "/"))
	}
	noun := "findings"
	if n == 1 {
		noun = "finding"
	}
	parts = append(parts, noun)
	if c.Severity != "" && c.Severity != model.Unknown {
		parts = append(parts, "of severity "+string(c.Severity)+" or above")
	}
	if c.CVSS > 0 {
		parts = append(parts, fmt.Sprintf("with CVSS %.1f or above", c.CVSS))
	}
	if len(c.IDs) > 0 {
		var ids []string
		for _, g := range c.IDs {
			ids = append(ids, g.String())
		}
		parts = append(parts, "matching "+strings.Join(ids, ", "))
	}
	if c.OlderThan > 0 {
		parts = append(parts, "published more than "+formatDuration(c.OlderThan)+" ago")
	}
	s := strings.Join(parts, " ")
	if c.Count > 1 {
		s += fmt.Sprintf(" (at least %d)", c.Count)
	}
	return s
}

func severityOf(f model.Finding) model.Severity {
	if f.Severity == "" {
		return model.Unknown
	}
	return f.Severity
}

// formatDuration writes whole days as "Nd", else Go's form rounded to
// the second.
func formatDuration(d time.Duration) string {
	if d >= 48*time.Hour || (d >= 24*time.Hour && d%(24*time.Hour) == 0) {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.Round(time.Second).String()
}

// short orders findings worst first (severity, CVSS score, id), without
// repeats, and keeps MaxFindings.
func short(fs []model.Finding) []model.VerdictFinding {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b model.Finding) int {
		return cmp.Or(
			cmp.Compare(severityOf(b).Rank(), severityOf(a).Rank()),
			cmp.Compare(score(b), score(a)),
			strings.Compare(a.ID, b.ID))
	})
	var out []model.VerdictFinding
	seen := map[string]bool{}
	for _, f := range fs {
		v := model.VerdictFinding{Class: f.Class, ID: f.ID, Severity: severityOf(f), Title: f.Title, FixedVersion: f.FixedVersion}
		if f.Package != nil {
			v.Package = f.Package.Name + "@" + f.Package.Version
		}
		key := v.ID + "\x00" + v.Package
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v)
		if len(out) == MaxFindings {
			break
		}
	}
	return out
}

func score(f model.Finding) float64 {
	s, err := strconv.ParseFloat(f.Extra[scoreKey], 64)
	if err != nil {
		return -1
	}
	return s
}

// ImageOf is the image a report describes: its resolved name (else its
// input) with its digest. A report of something without a registry name
// (an archive, a root filesystem) has its input as repository.
func ImageOf(rep *report.Report) Image {
	ref := rep.Artifact.Name
	if ref == "" {
		ref = rep.Artifact.Input
	}
	img, err := ParseImage(ref)
	if err != nil {
		img = Image{Repository: ref}
	}
	if rep.Artifact.Digest != "" {
		img.Digest = rep.Artifact.Digest
	}
	return img
}
