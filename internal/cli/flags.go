package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/source"
)

// registerAuthFlags registers the registry credential and transport flags.
func registerAuthFlags(fl *pflag.FlagSet, o *source.Options) {
	fl.StringVar(&o.Username, "username", "", "registry user name (or $"+source.EnvUsername+")")
	fl.StringVar(&o.Password, "password", "", "registry password or token (or $"+source.EnvPassword+")")
	fl.BoolVar(&o.Insecure, "insecure", false, "skip TLS certificate verification for the registry")
	fl.BoolVar(&o.PlainHTTP, "plain-http", false, "allow talking to the registry over plain HTTP")
}

// registerEngineFlags registers the flags that bound the layer engine and
// its cache.
func registerEngineFlags(fl *pflag.FlagSet, cfg *pipeline.Config) {
	fl.StringVar(&cfg.CacheDir, "cache-dir", cache.DefaultDir(), "directory for cached layer analyses, tag history and registry-scan state")
	fl.BoolVar(&cfg.NoCache, "no-cache", false, "neither read nor write the layer cache, tag history or registry-scan state")
	fl.Int64Var(&cfg.CacheMaxMB, "cache-max-mb", cache.DefaultMaxBytes>>20, "size the layer cache is kept to, in MiB: once a day the least recently used results beyond it are removed (0: no bound)")
	fl.Int64Var(&cfg.Limits.MaxFileBytes, "max-file-size", layer.DefaultMaxFileBytes, "bytes read from one file for analysis")
	fl.Int64Var(&cfg.Limits.MaxLayerBytes, "max-layer-size", layer.DefaultMaxLayerBytes, "uncompressed bytes allowed in one layer")
	fl.IntVar(&cfg.Limits.MaxEntries, "max-entries", layer.DefaultMaxEntries, "entries allowed in one layer")
}

// analysisFlags are the scanner selection and analyzer settings shared by
// `customs image` and `customs registry scan`.
type analysisFlags struct {
	skipChecks []string
}

func (a *analysisFlags) register(fl *pflag.FlagSet, cfg *pipeline.Config) {
	fl.StringSliceVar(&cfg.Scanners, "scanners", nil, "scanners to run (default all): "+strings.Join(pipeline.ScannerNames(), ", "))
	fl.StringSliceVar(&a.skipChecks, "skip-checks", nil, "configuration check ids not to report (see `customs checks`)")
	fl.IntVar(&cfg.Analyzers.MaxImageAgeDays, "max-image-age", check.DefaultMaxImageAgeDays, "days after which an image counts as old (image-age check); negative disables")
	fl.BoolVar(&cfg.Analyzers.ShowSecrets, "show-secrets", false, "show secrets and cracked passwords in findings instead of redacting them")
	fl.StringVar(&cfg.Analyzers.SecretConfig, "secret-config", "", "gitleaks-format TOML file with more secret rules and allowlists (paths, regexes)")
	fl.StringVar(&cfg.Analyzers.PasswordGuessing, "password-guessing", "quick", "how hard to guess /etc/shadow passwords: off, quick (common and vendor-default passwords and the account name, about 1 s of CPU per image), deep (a long list, up to 30 s)")
	fl.StringVar(&cfg.Malware.ClamAVDB, "clamav-db", "", "directory of ClamAV databases (.cvd, .cld, .hdb, .hsb, .mdb, .msb, .ndb, .ldb, ...) to match every file against")
	fl.StringVar(&cfg.Malware.Clamd, "clamd", "", "clamd to stream every file to: unix:///path/clamd.ctl or tcp://host:3310")
	fl.StringVar(&cfg.Malware.YARARules, "yara-rules", "", "YARA rule file, or directory of .yar/.yara files, to match every file against")
}

// apply puts the parsed settings into cfg.
func (a *analysisFlags) apply(cfg *pipeline.Config) error {
	switch cfg.Analyzers.PasswordGuessing {
	case "", "off", "quick", "deep": // "" (customs sbom): quick, unused
	default:
		return fmt.Errorf("--password-guessing %q: one of off, quick, deep", cfg.Analyzers.PasswordGuessing)
	}
	skip, err := check.ParseSkip(a.skipChecks)
	if err != nil {
		return fmt.Errorf("--skip-checks: %w", err)
	}
	cfg.Analyzers.SkipChecks = skip
	return nil
}
