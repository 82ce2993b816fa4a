package cli

import (
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/policy"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func defaultDBDir() string { return filepath.Join(cache.DefaultDir(), "db") }

// gateFlags decide the exit code of a scan.
type gateFlags struct {
	exitCode int
	// cfg holds --allow-missing-data, which the pipeline needs too.
	cfg *pipeline.Config
}

func (g *gateFlags) gate() pipeline.Gate {
	return pipeline.Gate{ExitCode: g.exitCode, AllowMissingData: g.cfg.Vuln.AllowMissingData}
}

// registerVulnFlags registers the vulnerability, policy and gate flags of
// `customs image` and `customs registry scan`.
func registerVulnFlags(fl *pflag.FlagSet, cfg *pipeline.Config, g *gateFlags) {
	fl.StringVar(&cfg.Vuln.DBDir, "db-dir", defaultDBDir(), "vulnerability database directory ("+vulndb.SampleName+" uses the small bundled sample)")
	fl.DurationVar(&cfg.Vuln.MaxAge, "db-max-age", 0, "fail when the vulnerability database is older than this (0: only warn after 3 days)")
	g.cfg = cfg
	fl.BoolVar(&cfg.Vuln.AllowMissingData, "allow-missing-data", false, "with --exit-code, gate on the data there is: a missing, empty or too old vulnerability database, or an OS without advisories, is a warning instead of exit code 2")
	fl.BoolVar(&cfg.Vuln.MatchOSOwned, "match-os-owned", false, "also match language packages that an OS package installed (Debian's node-*, python3-*...) against their language's advisories; by default the distribution's advisories cover them")
	fl.StringSliceVar(&cfg.Policy.Severities, "severity", nil, "report only findings of these severities, of every class (vulnerabilities, malware, secrets, configuration...): CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN")
	fl.BoolVar(&cfg.Policy.IgnoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities that have no fixed version")
	fl.IntVar(&g.exitCode, "exit-code", 0, "exit with this code when findings remain after the filters; exit 2 instead when vulnerability data was missing (see --allow-missing-data)")
	fl.StringVar(&cfg.Policy.IgnoreFile, "ignorefile", "", "ignore file (YAML; default "+policy.DefaultIgnoreFile+" when it exists)")
	fl.StringVar(&cfg.Policy.VEX, "vex", "", "OpenVEX document: not_affected and fixed statements suppress findings")
}
