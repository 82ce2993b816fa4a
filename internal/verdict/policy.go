// Package verdict is customs' image policy: a YAML file of rules that
// decide, from an image's reference, where it is to run and its report,
// whether it may run (allow), may run with a warning (warn) or must not
// (deny). The CLI (`customs image --policy`), the server's Kubernetes
// admission webhook and the other enforcement points all call
// Policy.Evaluate, so one image gets one decision everywhere.
//
// The file format is documented in docs/policy.md. Parsing is strict:
// an unknown key, a bad value or a dangling exception is an error naming
// its line.
package verdict

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/customs-scanner/customs/internal/model"
)

// MaxPolicyBytes bounds a policy file.
const MaxPolicyBytes = 1 << 20

// Action is what a rule does with an image it applies to.
type Action = model.PolicyAction

// Actions.
const (
	Deny  = model.ActionDeny
	Warn  = model.ActionWarn
	Allow = model.ActionAllow
)

// Verdict is a policy's decision about one image.
type Verdict = model.Verdict

// Names of the decisions no rule made.
const (
	// RuleDefault decides when no rule applies to a scanned image.
	RuleDefault = "default"
	// RuleUnscanned decides when no rule applies to an image without a
	// report.
	RuleUnscanned = "unscanned"
)

// DefaultScanTimeout is how long a scan on demand may take when the
// policy names no timeout.
const DefaultScanTimeout = 20 * time.Second

// Policy is a parsed policy file.
type Policy struct {
	// Name is the policy's name (optional in the file).
	Name string
	// Digest is the SHA-256 of the file's text, "sha256:HEX".
	Digest string
	// Default is the action when no rule applies (default allow).
	Default Action
	// Unscanned says what happens to an image without a report.
	Unscanned Unscanned
	// Rules are tried in order; the first that applies decides.
	Rules []Rule
	// Exceptions lift findings or images from rules until they expire.
	Exceptions []Exception
}

// Unscanned is the policy for images that have no report yet.
type Unscanned struct {
	// ScanOnDemand asks an enforcement point that can scan (the server)
	// to scan the image and wait up to Timeout for its report.
	ScanOnDemand bool
	// Timeout bounds the wait for a scan on demand.
	Timeout time.Duration
	// Action applies when there is still no report (default deny).
	Action Action
}

// Rule is one rule: where it applies, the conditions that make it
// apply, and its action.
type Rule struct {
	Name    string
	Line    int
	Match   Match
	When    Conditions
	Action  Action
	Message string
}

// Match selects images by reference and by where they are to run.
// Empty lists match everything; each list matches when one of its globs
// does.
type Match struct {
	Registries   []Glob
	Repositories []Glob
	Tags         []Glob
	Namespaces   []Glob
	Hosts        []Glob
}

// Conditions must all hold for a rule to apply. A rule without
// conditions applies to every image it matches, scanned or not.
type Conditions struct {
	Findings *FindingConditions
	Image    *ImageConditions
}

// FindingConditions count the findings that satisfy every set field; the
// condition holds when at least Count (default 1) do.
type FindingConditions struct {
	Classes  []model.Class
	Severity model.Severity
	// Fixable, when set, wants findings with (true) or without (false) a
	// fixed version.
	Fixable *bool
	// CVSS is the lowest CVSS score (0 when not set).
	CVSS float64
	// IDs are globs matched against each finding's id and aliases.
	IDs []Glob
	// OlderThan wants advisories published longer ago than this.
	OlderThan time.Duration
	Count     int
}

// ImageConditions are facts about the image; each set field must equal
// the fact.
type ImageConditions struct {
	Unscanned           *bool
	ScanOlderThan       time.Duration
	RunsAsRoot          *bool
	Unsigned            *bool
	BadSignature        *bool
	TagMoved            *bool
	LookAlike           *bool
	PlainHTTP           *bool
	RegistryAuditFailed *bool
}

// Exception lifts images or findings from a rule (or from every rule)
// until it expires.
type Exception struct {
	// Rule names the rule excepted from; empty for every rule.
	Rule  string
	Match Match
	// IDs, when set, are the finding ids (globs) the exception lifts;
	// without them the exception lifts the whole image.
	IDs []Glob
	// Expires is the first instant the exception no longer holds (the
	// day after the date in the file, 00:00 UTC).
	Expires time.Time
	Reason  string
	Line    int
}

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Parse parses a policy file's text.
func Parse(b []byte) (*Policy, error) {
	if len(b) > MaxPolicyBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxPolicyBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty policy")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("line %d: a policy file holds one YAML document", extra.Line)
	}
	var raw rawPolicy
	if err := doc.Decode(&raw); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	p := &Policy{Name: raw.Name, Digest: "sha256:" + hex.EncodeToString(sum[:]), Default: raw.Default.or(Allow),
		Unscanned: Unscanned{Action: Deny, Timeout: DefaultScanTimeout}}
	if raw.Version != 0 && raw.Version != 1 {
		return nil, fmt.Errorf("line %d: version %d: this customs reads version 1", raw.line, raw.Version)
	}
	if u := raw.Unscanned; u != nil {
		p.Unscanned.ScanOnDemand = u.ScanOnDemand
		p.Unscanned.Action = u.Action.or(Deny)
		if u.Timeout > 0 {
			p.Unscanned.Timeout = time.Duration(u.Timeout)
		}
	}
	names := map[string]int{}
	for _, r := range raw.Rules {
		if prev, ok := names[r.Name]; ok {
			return nil, fmt.Errorf("line %d: rule %q: already defined on line %d", r.line, r.Name, prev)
		}
		names[r.Name] = r.line
		p.Rules = append(p.Rules, r.rule())
	}
	for _, e := range raw.Exceptions {
		if _, ok := names[e.Rule]; e.Rule != "" && !ok {
			return nil, fmt.Errorf("line %d: exception for rule %q: no such rule", e.line, e.Rule)
		}
		p.Exceptions = append(p.Exceptions, Exception{Rule: e.Rule, Match: e.Match.match(), IDs: e.IDs,
			Expires: time.Time(e.Expires).AddDate(0, 0, 1), Reason: e.Reason, Line: e.line})
	}
	return p, nil
}

// ID names the policy in verdicts: its name, if any, and digest.
func (p *Policy) ID() string {
	if p.Name == "" {
		return p.Digest
	}
	return p.Name + "@" + p.Digest
}
