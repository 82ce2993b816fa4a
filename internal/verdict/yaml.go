package verdict

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/customs-scanner/customs/internal/model"
)

// The raw* types are the file's shape. Each decodes strictly: a key its
// struct does not name is an error on that key's line.

type rawPolicy struct {
	Version    int            `yaml:"version"`
	Name       string         `yaml:"name"`
	Default    action         `yaml:"default"`
	Unscanned  *rawUnscanned  `yaml:"unscanned"`
	Rules      []rawRule      `yaml:"rules"`
	Exceptions []rawException `yaml:"exceptions"`
	line       int
}

type rawUnscanned struct {
	ScanOnDemand bool     `yaml:"scan-on-demand"`
	Timeout      duration `yaml:"timeout"`
	Action       action   `yaml:"action"`
}

type rawRule struct {
	Name    string        `yaml:"name"`
	Match   rawMatch      `yaml:"match"`
	When    rawConditions `yaml:"when"`
	Action  action        `yaml:"action"`
	Message string        `yaml:"message"`
	line    int
}

type rawMatch struct {
	Registries   []Glob `yaml:"registries"`
	Repositories []Glob `yaml:"repositories"`
	Tags         []Glob `yaml:"tags"`
	Namespaces   []Glob `yaml:"namespaces"`
	Hosts        []Glob `yaml:"hosts"`
}

type rawConditions struct {
	Findings *rawFindings `yaml:"findings"`
	Image    *rawImage    `yaml:"image"`
}

type rawFindings struct {
	Class     []class  `yaml:"class"`
	Severity  severity `yaml:"severity"`
	Fixable   *bool    `yaml:"fixable"`
	CVSS      *float64 `yaml:"cvss"`
	IDs       []Glob   `yaml:"ids"`
	OlderThan duration `yaml:"older-than"`
	Count     *int     `yaml:"count"`
}

type rawImage struct {
	Unscanned           *bool    `yaml:"unscanned"`
	ScanOlderThan       duration `yaml:"scan-older-than"`
	RunsAsRoot          *bool    `yaml:"runs-as-root"`
	Unsigned            *bool    `yaml:"unsigned"`
	BadSignature        *bool    `yaml:"bad-signature"`
	TagMoved            *bool    `yaml:"tag-moved"`
	LookAlike           *bool    `yaml:"look-alike"`
	PlainHTTP           *bool    `yaml:"plain-http"`
	RegistryAuditFailed *bool    `yaml:"registry-audit-failed"`
}

type rawException struct {
	Rule    string   `yaml:"rule"`
	Match   rawMatch `yaml:"match"`
	IDs     []Glob   `yaml:"ids"`
	Expires date     `yaml:"expires"`
	Reason  string   `yaml:"reason"`
	line    int
}

func (p *rawPolicy) UnmarshalYAML(n *yaml.Node) error {
	type plain rawPolicy
	if err := strict(n, (*plain)(p), "the policy"); err != nil {
		return err
	}
	p.line = n.Line
	return nil
}

func (u *rawUnscanned) UnmarshalYAML(n *yaml.Node) error {
	type plain rawUnscanned
	return strict(n, (*plain)(u), "unscanned")
}

func (r *rawRule) UnmarshalYAML(n *yaml.Node) error {
	type plain rawRule
	if err := strict(n, (*plain)(r), "a rule"); err != nil {
		return err
	}
	r.line = n.Line
	if strings.TrimSpace(r.Name) == "" {
		return fmt.Errorf("line %d: a rule needs a name", n.Line)
	}
	if r.Action == "" {
		return fmt.Errorf("line %d: rule %q needs an action (deny, warn or allow)", n.Line, r.Name)
	}
	return nil
}

func (m *rawMatch) UnmarshalYAML(n *yaml.Node) error {
	type plain rawMatch
	return strict(n, (*plain)(m), "match")
}

func (c *rawConditions) UnmarshalYAML(n *yaml.Node) error {
	type plain rawConditions
	return strict(n, (*plain)(c), "when")
}

func (f *rawFindings) UnmarshalYAML(n *yaml.Node) error {
	type plain rawFindings
	if err := strict(n, (*plain)(f), "findings"); err != nil {
		return err
	}
	if f.CVSS != nil && (*f.CVSS < 0 || *f.CVSS > 10 || *f.CVSS != *f.CVSS) {
		return fmt.Errorf("line %d: cvss %v: want a score from 0 to 10", n.Line, *f.CVSS)
	}
	if f.Count != nil && *f.Count < 1 {
		return fmt.Errorf("line %d: count %d: want at least 1", n.Line, *f.Count)
	}
	return nil
}

func (i *rawImage) UnmarshalYAML(n *yaml.Node) error {
	type plain rawImage
	return strict(n, (*plain)(i), "image")
}

func (e *rawException) UnmarshalYAML(n *yaml.Node) error {
	type plain rawException
	if err := strict(n, (*plain)(e), "an exception"); err != nil {
		return err
	}
	e.line = n.Line
	if strings.TrimSpace(e.Reason) == "" {
		return fmt.Errorf("line %d: an exception needs a reason", n.Line)
	}
	if time.Time(e.Expires).IsZero() {
		return fmt.Errorf("line %d: an exception needs an expiry date (expires: YYYY-MM-DD)", n.Line)
	}
	return nil
}

// strict decodes the mapping n into v (a pointer to a struct without an
// UnmarshalYAML method), refusing keys the struct does not name.
func strict(n *yaml.Node, v any, what string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping", n.Line, what)
	}
	known := keys(reflect.TypeOf(v).Elem())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: unknown key %q in %s (known keys: %s)", k.Line, k.Value, what, strings.Join(known, ", "))
		}
	}
	return n.Decode(v)
}

// keys lists the yaml names of t's fields.
func keys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// scalar reads n as a string scalar.
func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: %s: want a single value", n.Line, what)
	}
	return strings.TrimSpace(n.Value), nil
}

type action Action

func (a *action) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "action")
	if err != nil {
		return err
	}
	switch v := Action(strings.ToLower(s)); v {
	case Deny, Warn, Allow:
		*a = action(v)
		return nil
	}
	return fmt.Errorf("line %d: action %q: want deny, warn or allow", n.Line, s)
}

// or is a, or def when a is not set.
func (a action) or(def Action) Action {
	if a == "" {
		return def
	}
	return Action(a)
}

type severity model.Severity

func (s *severity) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "severity")
	if err != nil {
		return err
	}
	sev := model.Severity(strings.ToUpper(v))
	if sev != model.Unknown && sev.Rank() == 0 {
		return fmt.Errorf("line %d: severity %q: want CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", n.Line, v)
	}
	*s = severity(sev)
	return nil
}

type class model.Class

var classes = []model.Class{model.ClassVulnerability, model.ClassMalware, model.ClassSecret, model.ClassMisconfiguration,
	model.ClassRegistry, model.ClassIntegrity, model.ClassArchive}

func (c *class) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "class")
	if err != nil {
		return err
	}
	cl := model.Class(strings.ToLower(v))
	if !slices.Contains(classes, cl) {
		return fmt.Errorf("line %d: class %q: want one of vulnerability, malware, secret, misconfiguration, registry, integrity, archive", n.Line, v)
	}
	*c = class(cl)
	return nil
}

// duration is a Go duration ("36h", "90m") or a number of days or weeks
// ("30d", "2w").
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "duration")
	if err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("duration %q: want a positive number of days (30d), weeks (2w) or a Go duration (36h, 90s)", s)
	var unit time.Duration
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	default:
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			return 0, bad
		}
		return v, nil
	}
	num, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || num <= 0 || num > 100*365 {
		return 0, bad
	}
	return time.Duration(num) * unit, nil
}

// date is a calendar day, YYYY-MM-DD, at 00:00 UTC.
type date time.Time

func (d *date) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "date")
	if err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("line %d: date %q: want YYYY-MM-DD", n.Line, s)
	}
	*d = date(t)
	return nil
}

func (m rawMatch) match() Match {
	return Match{Registries: m.Registries, Repositories: m.Repositories, Tags: m.Tags, Namespaces: m.Namespaces, Hosts: m.Hosts}
}

func (r rawRule) rule() Rule {
	out := Rule{Name: r.Name, Line: r.line, Match: r.Match.match(), Action: Action(r.Action), Message: r.Message}
	if f := r.When.Findings; f != nil {
		fc := &FindingConditions{Severity: model.Severity(f.Severity), Fixable: f.Fixable, IDs: f.IDs,
			OlderThan: time.Duration(f.OlderThan), Count: 1}
		for _, c := range f.Class {
			fc.Classes = append(fc.Classes, model.Class(c))
		}
		if f.CVSS != nil {
			fc.CVSS = *f.CVSS
		}
		if f.Count != nil {
			fc.Count = *f.Count
		}
		out.When.Findings = fc
	}
	if i := r.When.Image; i != nil {
		out.When.Image = &ImageConditions{Unscanned: i.Unscanned, ScanOlderThan: time.Duration(i.ScanOlderThan),
			RunsAsRoot: i.RunsAsRoot, Unsigned: i.Unsigned, BadSignature: i.BadSignature, TagMoved: i.TagMoved,
			LookAlike: i.LookAlike, PlainHTTP: i.PlainHTTP, RegistryAuditFailed: i.RegistryAuditFailed}
	}
	return out
}
