package model

// PolicyAction is what an image policy does with an image.
type PolicyAction string

// Image policy actions.
const (
	ActionDeny  PolicyAction = "deny"
	ActionWarn  PolicyAction = "warn"
	ActionAllow PolicyAction = "allow"
)

// Verdict is what an image policy (internal/verdict) decided about one
// image, and why.
type Verdict struct {
	Action PolicyAction `json:"action"`
	// Rule names the rule that decided: a rule's name, "default" when
	// no rule matched, "unscanned" when the image had no report and no
	// rule decided.
	Rule string `json:"rule"`
	// Reason says in one sentence what made the rule apply.
	Reason string `json:"reason"`
	// Policy identifies the policy: its name and the SHA-256 of its text.
	Policy string `json:"policy,omitempty"`
	// Findings are the worst findings the rule matched, worst first.
	Findings []VerdictFinding `json:"findings,omitempty"`
	// Exceptions lists the exceptions that lifted findings or the image
	// from a rule, each as "rule: reason (until DATE)".
	Exceptions []string `json:"exceptions,omitempty"`
}

// VerdictFinding is the short form of a finding a verdict names.
type VerdictFinding struct {
	Class    Class    `json:"class"`
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title,omitempty"`
	// Package is "name@version" for a finding in a package.
	Package string `json:"package,omitempty"`
	// FixedVersion is the version that fixes a vulnerability, if any.
	FixedVersion string `json:"fixed_version,omitempty"`
}
