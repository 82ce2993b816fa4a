package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/customs-scanner/customs/internal/policy"
	"github.com/customs-scanner/customs/internal/report"
)

// loadPolicy reads the ignore and VEX files once for every scan.
func loadPolicy(c PolicyConfig) (policy.Policy, error) {
	sev, err := policy.ParseSeverities(c.Severities)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("--severity: %w", err)
	}
	p := policy.Policy{Severities: sev, IgnoreUnfixed: c.IgnoreUnfixed}
	name, required := c.IgnoreFile, true
	if name == "" {
		name, required = policy.DefaultIgnoreFile, false
	}
	if p.Ignore, err = policy.LoadIgnoreFile(name, required); err != nil {
		return policy.Policy{}, fmt.Errorf("--ignorefile: %w", err)
	}
	if c.VEX != "" {
		if p.VEX, err = policy.LoadVEX(c.VEX); err != nil {
			return policy.Policy{}, fmt.Errorf("--vex: %w", err)
		}
	}
	return p, nil
}

// applyPolicy keeps the findings the policy keeps and counts the others.
func (p *Pipeline) applyPolicy(rep *report.Report) {
	pol := p.policy
	pol.Image = []string{rep.Artifact.Input, rep.Artifact.Name, rep.Artifact.Digest}
	kept, suppressed := pol.Apply(rep.Findings)
	rep.Findings = kept
	rep.Suppressed = len(suppressed)
	rep.Summarize()
}

// ErrMissingData marks a gate that cannot pass because the vulnerability
// scanner ran without usable data.
var ErrMissingData = errors.New("vulnerability data missing")

// Gate decides whether a report passes a CI gate.
type Gate struct {
	// ExitCode is returned when findings remain (0: never fail on findings).
	ExitCode int
	// AllowMissingData lets the gate judge on the data there is.
	AllowMissingData bool
}

// Decide returns the exit code for rep: 0 when it passes, g.ExitCode when
// findings remain, and an error wrapping ErrMissingData when the gate is
// on and the vulnerability scanner had no usable data for part of the
// image: no findings then proves nothing.
func (g Gate) Decide(rep *report.Report) (int, error) {
	if g.ExitCode == 0 {
		return 0, nil
	}
	if err := g.Missing(rep); err != nil {
		return 0, err
	}
	if len(rep.Findings) > 0 {
		return g.ExitCode, nil
	}
	return 0, nil
}

// Missing returns an error wrapping ErrMissingData when rep lacks data to
// judge on (an incomplete scan, missing vulnerability data), unless the
// gate allows missing data.
func (g Gate) Missing(rep *report.Report) error {
	if !g.AllowMissingData && rep.Incomplete {
		return fmt.Errorf("%w: the scan of %s is incomplete, so the gate cannot pass: %s (pass --allow-missing-data to gate on what was analysed)",
			ErrMissingData, rep.Artifact.Input, strings.Join(rep.Warnings, "; "))
	}
	if !g.AllowMissingData && rep.Coverage != nil && len(rep.Coverage.Missing) > 0 {
		return fmt.Errorf("%w for %s, so the gate cannot pass: %s (pass --allow-missing-data to gate on the data there is, or leave vuln out of --scanners)",
			ErrMissingData, rep.Artifact.Input, strings.Join(rep.Coverage.Missing, "; "))
	}
	return nil
}
